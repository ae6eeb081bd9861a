import Foundation

/// The aligned error format every rejection uses on the wire, from gateway and collector alike.
public struct Rejection: Sendable, Hashable, Codable {
    public var error: String
    public var rejectedBy: RejectingComponent
    public var validationType: ValidationType
    /// Always holds `reason`; other keys depend on the reason.
    public var details: [String: JSONValue]
    public var timestamp: String

    enum CodingKeys: String, CodingKey {
        case error
        case rejectedBy = "rejected_by"
        case validationType = "validation_type"
        case details
        case timestamp
    }

    public init(_ failure: ValidationFailure, rejectedBy: RejectingComponent, at date: Date) {
        self.error = failure.message
        self.rejectedBy = rejectedBy
        self.validationType = failure.reason.validationType
        var details = failure.details
        details["reason"] = .string(failure.reason.code)
        self.details = details
        self.timestamp = Timestamp.string(from: date)
    }

    init(
        error: String, rejectedBy: RejectingComponent, validationType: ValidationType, details: [String: JSONValue],
        timestamp: String
    ) {
        self.error = error
        self.rejectedBy = rejectedBy
        self.validationType = validationType
        self.details = details
        self.timestamp = timestamp
    }

    /// The specific reason code (`details.reason`).
    public var reasonCode: String? { details["reason"]?.stringValue }
}

extension Rejection {
    /// Reads a rejection strictly (``StrictJSONDecoder``): the agent acts on its reason.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(Rejection.self, from: payload)
    }
}

extension Rejection {
    /// The rejection's JSON (``WireJSON``); throws for a value JSON cannot carry (a number that is not finite).
    public func jsonData() throws -> Data {
        try WireJSON.encode(self)
    }
}
