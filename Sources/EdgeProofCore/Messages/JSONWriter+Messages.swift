import Foundation

/// Receipts, trust events and rejections as the collector sends them, a receipt and an `accepted` event
/// per stored envelope: the same bytes as their `Codable` conformances give through `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]` (members in UTF-8 key order, absent optionals left out),
/// without the encoder's generic machinery, which cost more than the rest of the answer. A member added
/// to one of these types must be added here too; `MessageEncodingTests` compares them with `JSONEncoder`.
extension JSONWriter {
    mutating func write(_ receipt: Receipt) {
        openObject()
        key("collector")
        string(receipt.collector)
        key("nonce")
        string(receipt.nonce)
        key("status")
        string(receipt.status)
        key("stored_at")
        string(receipt.storedAt)
        closeObject()
    }

    /// At `depth` in the document (see ``write(_:depth:)``).
    mutating func write(_ rejection: Rejection, depth: Int) throws(Refusal) {
        openObject()
        key("details")
        try object(rejection.details, depth: depth + 1)
        key("error")
        string(rejection.error)
        key("rejected_by")
        string(rejection.rejectedBy.rawValue)
        key("timestamp")
        string(rejection.timestamp)
        key("validation_type")
        string(rejection.validationType.rawValue)
        closeObject()
    }

    mutating func write(_ event: TrustEvent) throws(Refusal) {
        openObject()
        if let agentName = event.agentName {
            key("agent_name")
            string(agentName)
        }
        key("component")
        string(event.component)
        key("details")
        try object(event.details, depth: 2)
        key("id")
        string(event.id)
        key("kind")
        string(event.kind)
        if let rejection = event.rejection {
            key("rejection")
            try write(rejection, depth: 2)
        }
        key("timestamp")
        string(event.timestamp)
        closeObject()
    }
}

extension Receipt {
    /// The receipt's JSON (see ``JSONWriter``).
    public func jsonData() -> Data {
        var writer = JSONWriter(capacity: 160)
        writer.write(self)
        return Data(writer.bytes)
    }
}

extension TrustEvent {
    /// The event's JSON (see ``JSONWriter``); throws what `JSONEncoder` throws for a value JSON cannot
    /// carry (a number that is not finite).
    public func jsonData() throws -> Data {
        var writer = JSONWriter(capacity: 320)
        do throws(JSONWriter.Refusal) {
            try writer.write(self)
            return Data(writer.bytes)
        } catch {
            // The encoder's own answer: its error, as before.
            return try WireJSON.encode(self)
        }
    }
}

extension Rejection {
    /// The rejection's JSON (see ``JSONWriter``); throws what `JSONEncoder` throws for a value JSON cannot
    /// carry (a number that is not finite).
    public func jsonData() throws -> Data {
        var writer = JSONWriter(capacity: 320)
        do throws(JSONWriter.Refusal) {
            try writer.write(self, depth: 1)
            return Data(writer.bytes)
        } catch {
            return try WireJSON.encode(self)
        }
    }
}
