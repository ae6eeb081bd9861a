import Foundation

extension Receipt {
    /// Reads a receipt with the strict ``JSONReader``: the agent deletes a spooled envelope on a receipt,
    /// so a receipt that is not strict JSON of this shape (a second `nonce`, …) is refused, not guessed at.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try JSONReader.read(payload) { reader throws(JSONRefusal) in try Receipt(reading: &reader) }
    }

    /// ``init(strictJSON:)``, nil when refused.
    public init?(parsing payload: Data) {
        guard let receipt = try? Receipt(strictJSON: payload) else { return nil }
        self = receipt
    }

    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var nonce: String?
        var collector: String?
        var status: String?
        var storedAt: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "nonce" {
                try members.first(0, key)
                nonce = try reader.readString()
            } else if key == "collector" {
                try members.first(1, key)
                collector = try reader.readString()
            } else if key == "status" {
                try members.first(2, key)
                status = try reader.readString()
            } else if key == "stored_at" {
                try members.first(3, key)
                storedAt = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let nonce else { throw JSONRefusal.missing("nonce") }
        guard let collector else { throw JSONRefusal.missing("collector") }
        guard let status else { throw JSONRefusal.missing("status") }
        guard let storedAt else { throw JSONRefusal.missing("stored_at") }
        self.init(nonce: nonce, collector: collector, storedAt: storedAt)
        self.status = status
    }
}

extension Rejection {
    /// Reads a rejection with the strict ``JSONReader`` (the agent acts on its reason).
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try JSONReader.read(payload) { reader throws(JSONRefusal) in try Rejection(reading: &reader) }
    }

    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var error: String?
        var rejectedBy: RejectingComponent?
        var validationType: ValidationType?
        var details: [String: JSONValue]?
        var timestamp: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "error" {
                try members.first(0, key)
                error = try reader.readString()
            } else if key == "rejected_by" {
                try members.first(1, key)
                guard let component = RejectingComponent(rawValue: try reader.readString()) else {
                    throw JSONRefusal("an unknown component")
                }
                rejectedBy = component
            } else if key == "validation_type" {
                try members.first(2, key)
                guard let type = ValidationType(rawValue: try reader.readString()) else {
                    throw JSONRefusal("an unknown validation type")
                }
                validationType = type
            } else if key == "details" {
                try members.first(3, key)
                details = try reader.readObjectValue()
            } else if key == "timestamp" {
                try members.first(4, key)
                timestamp = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let error else { throw JSONRefusal.missing("error") }
        guard let rejectedBy else { throw JSONRefusal.missing("rejected_by") }
        guard let validationType else { throw JSONRefusal.missing("validation_type") }
        guard let details else { throw JSONRefusal.missing("details") }
        guard let timestamp else { throw JSONRefusal.missing("timestamp") }
        self.init(
            error: error, rejectedBy: rejectedBy, validationType: validationType, details: details,
            timestamp: timestamp)
    }
}

extension NonceResponse {
    /// Reads a nonce response with the strict ``JSONReader``: the agent signs the nonce it names.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try JSONReader.read(payload) { reader throws(JSONRefusal) in
            var nonce: String?
            var expiresAt: String?
            var members = JSONReader.Members()
            try reader.readObject { reader, key throws(JSONRefusal) in
                if key == "nonce" {
                    try members.first(0, key)
                    nonce = try reader.readString()
                } else if key == "expires_at" {
                    try members.first(1, key)
                    expiresAt = try reader.readString()
                } else {
                    try members.skip(key, in: &reader)
                }
            }
            guard let nonce else { throw JSONRefusal.missing("nonce") }
            guard let expiresAt else { throw JSONRefusal.missing("expires_at") }
            return NonceResponse(nonce: nonce, expiresAt: expiresAt)
        }
    }
}

extension NonceRequest {
    /// Reads a non-empty nonce request with the strict ``JSONReader``. Its members are informative (the
    /// topic names the agent), but a request that is not strict JSON of this shape is refused all the same.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try JSONReader.read(payload) { reader throws(JSONRefusal) in
            var request = NonceRequest()
            var members = JSONReader.Members()
            try reader.readObject { reader, key throws(JSONRefusal) in
                if key == "agent_name" {
                    try members.first(0, key)
                    if try !reader.readNullIfPresent() { request.agentName = try reader.readString() }
                } else if key == "tpm_public_key_hash" {
                    try members.first(1, key)
                    if try !reader.readNullIfPresent() { request.publicKeyHash = try PublicKeyHash(reading: &reader) }
                } else {
                    try members.skip(key, in: &reader)
                }
            }
            return request
        }
    }
}
