import Foundation

extension Receipt {
    /// Parses a receipt as `JSONDecoder` does: through ``JSONReader`` when it takes the payload (the
    /// common case), `JSONDecoder` otherwise. Nil when the payload is not a receipt.
    public init?(parsing payload: Data) {
        let read = payload.withUnsafeBytes { raw in
            JSONReader.read(raw.bindMemory(to: UInt8.self)) { reader throws(JSONReader.Unsupported) in
                try Receipt(reading: &reader)
            }
        }
        guard let receipt = read ?? (try? JSONDecoder().decode(Receipt.self, from: payload)) else { return nil }
        self = receipt
    }

    /// The same values as the `Decodable` conformance, or ``JSONReader/Unsupported``.
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var nonce: String?
        var collector: String?
        var status: String?
        var storedAt: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "nonce" {
                try members.first(0)
                nonce = try reader.readString()
            } else if key == "collector" {
                try members.first(1)
                collector = try reader.readString()
            } else if key == "status" {
                try members.first(2)
                status = try reader.readString()
            } else if key == "stored_at" {
                try members.first(3)
                storedAt = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let nonce, let collector, let status, let storedAt else { throw JSONReader.Unsupported() }
        self.init(nonce: nonce, collector: collector, storedAt: storedAt)
        self.status = status
    }
}
