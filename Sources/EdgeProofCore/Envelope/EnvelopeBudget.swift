/// How many samples fit in one signed envelope, known before signing.
///
/// Receivers refuse envelopes above a size (`payload_too_large`, ``SignedEnvelope/defaultMaximumSize``), so
/// an agent cuts its batches to fit when it makes them. The serialized envelope is
/// `{"protected":"…","payload":"…","signature":"…"}` with base64url parts; its size follows from the claims'
/// JSON size, which is the claims around the samples plus each sample's JSON (as ``JSONWriter`` writes it)
/// plus a comma between two samples. The part around the samples is measured with the longest nonce a
/// collector may issue and the largest signature, so a batch within the budget always fits.
public struct EnvelopeBudget: Sendable, Hashable {
    /// The envelope size receivers accept.
    public let maximumEnvelopeBytes: Int
    /// Claims JSON bytes whose envelope stays within `maximumEnvelopeBytes`.
    public let maximumClaimsBytes: Int
    /// Claims JSON bytes without any sample (an empty `samples` array).
    public let baseClaimsBytes: Int

    /// Nonce tokens longer than this are invalid (`NonceAuthority`).
    static let longestNonce = 128
    /// RSA-2048 signs 256 bytes, ES256 64; room for a 4096-bit key all the same.
    static let largestSignature = 512
    /// Kept free for what this arithmetic does not see.
    static let margin = 256

    public init(
        maximumEnvelopeBytes: Int, agentName: String, publicKeyHash: PublicKeyHash, geographicRegion: GeographicRegion,
        geolocation: Geolocation?, service: ServiceInfo
    ) {
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        var header = JSONWriter(capacity: 128)
        header.write(JWSHeader(algorithm: .rs256, keyID: publicKeyHash))
        let frame = #"{"protected":"","payload":"","signature":""}"#.utf8.count
        let room = maximumEnvelopeBytes - frame - Self.base64Length(header.bytes.count)
            - Self.base64Length(Self.largestSignature) - Self.margin
        maximumClaimsBytes = max(0, room * 3 / 4)
        let claims = EnvelopeClaims(
            agentName: agentName, publicKeyHash: publicKeyHash, nonce: String(repeating: "n", count: Self.longestNonce),
            timestamp: "2026-01-01T00:00:00.000Z", geographicRegion: geographicRegion, geolocation: geolocation,
            metrics: MetricsBatch(service: service, samples: []))
        baseClaimsBytes = (try? SignedEnvelope.claimsJSON(claims).count) ?? maximumClaimsBytes
    }

    /// Bytes a batch's samples may take together, commas included.
    public var roomForSamples: Int { max(0, maximumClaimsBytes - baseClaimsBytes) }

    /// The JSON size of one sample in the claims; nil when JSON cannot carry it (a non-finite number,
    /// absurd nesting), so no envelope could.
    public static func sampleBytes(_ sample: MetricSample) -> Int? {
        var writer = JSONWriter(capacity: 256)
        do throws(JSONWriter.Refusal) {
            try writer.write(sample)
        } catch {
            return nil
        }
        return writer.bytes.count
    }

    /// The claims size of a batch of samples of these sizes.
    public func claimsBytes(samples sizes: [Int]) -> Int {
        baseClaimsBytes + sizes.reduce(0, +) + max(0, sizes.count - 1)
    }

    /// Whether one sample of `size` bytes fits in an envelope by itself.
    public func fits(sampleOf size: Int) -> Bool { size <= roomForSamples }

    /// Cuts `samples` into consecutive batches that each fit, in order. Samples that do not fit even alone,
    /// or that JSON cannot carry, are left out and returned in `unfit`.
    public func split(_ samples: [MetricSample]) -> (batches: [[MetricSample]], unfit: [MetricSample]) {
        var batches: [[MetricSample]] = []
        var unfit: [MetricSample] = []
        var current: [MetricSample] = []
        var used = 0
        for sample in samples {
            guard let size = Self.sampleBytes(sample), fits(sampleOf: size) else {
                unfit.append(sample)
                continue
            }
            let added = current.isEmpty ? size : size + 1
            if used + added > roomForSamples {
                batches.append(current)
                current = [sample]
                used = size
            } else {
                current.append(sample)
                used += added
            }
        }
        if !current.isEmpty { batches.append(current) }
        return (batches, unfit)
    }

    static func base64Length(_ bytes: Int) -> Int { (bytes * 4 + 2) / 3 }
}
