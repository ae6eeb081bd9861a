import Foundation

/// The whole geographic decision on one envelope, shared by the gateway (enforce mode) and every
/// collector: the declared place, then the signed position's evidence, then the fences.
extension GeographicPolicy {
    /// Checks the signed `geographic_region` and `geolocation` of `claims` for an agent with these places
    /// and location requirements, in this order:
    ///
    /// 1. the declared place is one of the allowed places (`location_not_allowed`);
    /// 2. the position's source is at least the minimum (`location_source_not_allowed`; no `geolocation`,
    ///    or one without `source`, counts as `configured`);
    /// 3. a measured position comes from an approved receiver (`location_sensor_not_approved`);
    /// 4. the fix is no older at signing than the maximum (`location_stale`);
    /// 5. its accuracy is known and within the maximum (`location_accuracy_insufficient`);
    /// 6. where a matching place has a fence, the whole accuracy circle lies inside one of them; a position
    ///    inside the fence of another allowed place is `location_place_mismatch`, anything else
    ///    `location_outside_fence`. Where no matching place has a fence, a position wholly inside another
    ///    allowed place's fence is still `location_place_mismatch`.
    public func check(
        _ claims: EnvelopeClaims, agentPlaces: [AllowedPlace], agentRequirement: LocationRequirement? = nil
    ) throws(ValidationFailure) {
        let declared = claims.geographicRegion
        // One pass over the places: whether the declared one is allowed, and the fences of those that match it.
        var allowed = false
        var declaredFences: [AllowedPlace] = []
        for place in agentPlaces where place.contains(declared) {
            allowed = true
            if place.isFenced { declaredFences.append(place) }
        }
        for place in globalPlaces where place.contains(declared) {
            allowed = true
            if place.isFenced { declaredFences.append(place) }
        }
        if !allowed { try check(declared, agentPlaces: agentPlaces) }
        let requirement = location.map { $0.overridden(by: agentRequirement) } ?? agentRequirement ?? LocationRequirement()
        let geolocation = claims.geolocation
        let source = geolocation?.effectiveSource ?? .configured

        if let minimum = requirement.minimumSource, source < minimum {
            throw ValidationFailure(
                .locationSourceNotAllowed,
                geolocation == nil
                    ? "the envelope carries no signed position; the policy requires a source of at least \(minimum.rawValue)"
                    : "the position comes from \(source.rawValue); the policy requires at least \(minimum.rawValue)",
                details: ["source": .string(source.rawValue), "minimum_source": .string(minimum.rawValue)])
        }
        if let approved = requirement.approvedSensors, !approved.isEmpty, source != .configured {
            guard let sensor = geolocation?.sensor, approved.contains(where: { $0.matches(sensor) }) else {
                let sensor = geolocation?.sensor
                throw ValidationFailure(
                    .locationSensorNotApproved,
                    sensor.map { "receiver \(Self.describe($0)) is not an approved sensor" }
                        ?? "the position names no receiver; the policy approves only listed sensors",
                    details: [
                        "sensor": sensor.map(Self.json) ?? .null,
                        "approved_sensors": .array(approved.map { .string($0.description) }),
                    ])
            }
        }
        if let maximumAge = requirement.maximumFixAgeSeconds, source != .configured {
            try Self.checkFreshness(claims, maximumAge: maximumAge)
        }
        let needsPosition = !declaredFences.isEmpty || requirement.maximumAccuracyMeters != nil
        guard let position = geolocation?.position else {
            guard needsPosition else { return }
            let reason: RejectionReason = declaredFences.isEmpty ? .locationAccuracyInsufficient : .locationOutsideFence
            throw ValidationFailure(
                reason,
                geolocation == nil
                    ? "the envelope carries no signed position, and \(declared) requires one"
                    : "the signed position has no fix (fix_mode none), and \(declared) requires one",
                details: ["declared_place": .string(declared.description), "position": .null])
        }
        let accuracy = geolocation?.accuracyMeters
        if let maximum = requirement.maximumAccuracyMeters {
            guard let accuracy, accuracy <= maximum else {
                throw ValidationFailure(
                    .locationAccuracyInsufficient,
                    accuracy.map { "the position is accurate to \(Self.metres($0)); the policy requires \(Self.metres(maximum)) or better" }
                        ?? "the position's accuracy is unknown; the policy requires \(Self.metres(maximum)) or better",
                    details: [
                        "accuracy_m": accuracy.map(JSONValue.number) ?? .null, "maximum_accuracy_m": .number(maximum),
                    ])
            }
        }
        if !declaredFences.isEmpty {
            guard let radius = accuracy else {
                throw ValidationFailure(
                    .locationAccuracyInsufficient,
                    "the position's accuracy is unknown, so no fence can be shown to contain it",
                    details: ["declared_place": .string(declared.description), "position": Self.json(position, accuracy: nil)])
            }
            var nearestCrossing: Double?
            for place in declaredFences {
                guard let fence = place.fence else { continue }
                switch fence.test(latitude: position.latitude, longitude: position.longitude, radiusMeters: radius) {
                case .inside:
                    return
                case .crossesEdge(let distance):
                    nearestCrossing = max(nearestCrossing ?? 0, distance)
                case .outside:
                    continue
                }
            }
            let positionDetails = Self.json(position, accuracy: accuracy)
            try checkOtherFences(agentPlaces + globalPlaces, declared: declared, position: position, accuracy: radius, details: positionDetails)
            var details: [String: JSONValue] = [
                "declared_place": .string(declared.description), "position": positionDetails,
            ]
            if let nearestCrossing { details["edge_distance_m"] = .number(nearestCrossing.rounded()) }
            throw ValidationFailure(
                .locationOutsideFence,
                nearestCrossing.map {
                    "the position is inside the fence of \(declared) but only \(Self.metres($0)) from its edge, within its accuracy of \(Self.metres(radius))"
                } ?? "the position lies outside the fence of \(declared)",
                details: details)
        }
        // No fence for the declared place: a position wholly in another allowed place's fence still contradicts it.
        let fenced = agentPlaces.contains(where: \.isFenced) || globalPlaces.contains(where: \.isFenced)
        guard fenced else { return }
        try checkOtherFences(
            agentPlaces + globalPlaces, declared: declared, position: position, accuracy: accuracy ?? 0,
            details: Self.json(position, accuracy: accuracy))
    }

    /// Refuses a position wholly inside the fence of an allowed place that is not the declared one.
    private func checkOtherFences(
        _ places: [AllowedPlace], declared: GeographicRegion, position: (latitude: Double, longitude: Double),
        accuracy: Double, details: JSONValue
    ) throws(ValidationFailure) {
        for place in places where place.isFenced && !place.contains(declared) {
            guard let fence = place.fence,
                fence.test(latitude: position.latitude, longitude: position.longitude, radiusMeters: accuracy).isInside
            else { continue }
            throw ValidationFailure(
                .locationPlaceMismatch,
                "the agent declares \(declared), but its signed position lies in the fence of \(place.description)",
                details: [
                    "declared_place": .string(declared.description), "position_place": .string(place.description),
                    "position": details,
                ])
        }
    }

    /// Fix age at signing: the signed `timestamp` minus `fix_time`; a fix time after the signing time by more
    /// than a second is as unusable as an old one.
    private static func checkFreshness(_ claims: EnvelopeClaims, maximumAge: Double) throws(ValidationFailure) {
        guard let text = claims.geolocation?.fixTime, let fixTime = Timestamp.date(from: text),
            let signed = Timestamp.date(from: claims.timestamp)
        else {
            throw ValidationFailure(
                .locationStale, "the position has no fix time, so its age cannot be shown",
                details: ["maximum_fix_age_s": .number(maximumAge)])
        }
        let age = signed.timeIntervalSince(fixTime)
        guard age > maximumAge || age < -1 else { return }
        throw ValidationFailure(
            .locationStale,
            age < 0
                ? "the fix time lies \(Int((-age).rounded())) s after the signing time"
                : "the fix was \(Int(age.rounded())) s old at signing; the policy allows \(Int(maximumAge.rounded())) s",
            details: [
                "fix_time": .string(text), "timestamp": .string(claims.timestamp), "fix_age_s": .number(age.rounded()),
                "maximum_fix_age_s": .number(maximumAge),
            ])
    }

    private static func metres(_ value: Double) -> String { "\(Int(value.rounded())) m" }

    private static func describe(_ sensor: LocationSensor) -> String {
        ([sensor.driver] + [sensor.model, sensor.firmware].compactMap { $0 }).joined(separator: " / ")
    }

    private static func json(_ sensor: LocationSensor) -> JSONValue {
        .object([
            "driver": .string(sensor.driver), "model": sensor.model.map(JSONValue.string) ?? .null,
            "firmware": sensor.firmware.map(JSONValue.string) ?? .null,
        ])
    }

    private static func json(_ position: (latitude: Double, longitude: Double), accuracy: Double?) -> JSONValue {
        .object([
            "latitude": .number(position.latitude), "longitude": .number(position.longitude),
            "accuracy_m": accuracy.map(JSONValue.number) ?? .null,
        ])
    }
}
