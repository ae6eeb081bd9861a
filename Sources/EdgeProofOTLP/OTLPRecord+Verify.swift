import EdgeProofCore
import Foundation
import OTLPProto

extension OTLPRecord {
    /// Re-verifies one OTLP line offline: the JWS its scope carries must verify with the allowlisted key of
    /// its agent (read by the collector's own strict reader), and the line must be exactly the one written
    /// for those signed claims (resource, metrics, position, nonce). The collector's own notes
    /// (`received_at`, `collector`, trust) are not signed and are taken as they are.
    public static func verify(line: some Collection<UInt8>, with allowlist: Allowlist) throws(ValidationFailure) {
        // Any reading will do to find the JWS and the collector's notes: the line must then be, byte for byte,
        // the one written for them, which no line with a member twice or anything added can be.
        let request: ExportMetricsServiceRequest
        do {
            request = try ExportMetricsServiceRequest(otlpJSON: line)
        } catch {
            throw ValidationFailure(.malformedEnvelope, "not an OTLP ExportMetricsServiceRequest: \(error)")
        }
        guard request.resourceMetrics.count == 1, let resource = request.resourceMetrics.first,
            resource.scopeMetrics.count == 1, let scopeMetrics = resource.scopeMetrics.first,
            scopeMetrics.scope.name == scopeName
        else {
            throw ValidationFailure(.malformedEnvelope, "not one \(scopeName) scope in one resource")
        }
        let attributes = scopeMetrics.scope.attributes
        guard let protected = attributes[Attribute.protected]?.string, let payload = attributes[Attribute.payload]?.string,
            let signature = attributes[Attribute.signature]?.string
        else {
            throw ValidationFailure(.malformedEnvelope, "the scope carries no JWS (\(Attribute.protected), …)")
        }
        // Written, not pasted: whatever the file holds stays inside its string.
        var json = JSONWriter(capacity: protected.utf8.count + payload.utf8.count + signature.utf8.count + 64)
        json.openObject()
        json.key("protected")
        json.string(protected)
        json.key("payload")
        json.string(payload)
        json.key("signature")
        json.string(signature)
        json.closeObject()
        let envelope = try SignedEnvelope(parsing: json.bytes)
        guard let key = allowlist.publicKey(forAgent: envelope.claims.agentName) else {
            throw ValidationFailure(.agentNotFound, "agent \(envelope.claims.agentName) is not on the allowlist")
        }
        try envelope.verifySignature(with: key)

        // The line must be, byte for byte, the one the collector writes for these claims and its own notes:
        // no member twice, nothing added or reordered that another JSON reader could read differently.
        let text = { (key: String) in attributes[key]?.string }
        let expected: [UInt8]
        do {
            expected = try OTLPRecord.line(
                for: envelope, collector: text(Attribute.collector) ?? "", receivedAt: text(Attribute.receivedAt) ?? "",
                trustLevel: text(Attribute.trustLevel), attestedAt: text(Attribute.attestedAt))
        } catch {
            throw ValidationFailure(.malformedEnvelope, "the signed claims cannot be written as OTLP: \(error)")
        }
        guard line.elementsEqual(expected) else {
            throw ValidationFailure(.headerMismatch, "the OTLP line differs from the line of the signed claims")
        }
    }

    /// Whether a file's first line is OTLP JSON rather than a records line.
    public static func looksLikeOTLP(_ firstLine: some Collection<UInt8>) -> Bool {
        firstLine.prefix(64).starts(with: Array(#"{"resourceMetrics""#.utf8))
    }
}
