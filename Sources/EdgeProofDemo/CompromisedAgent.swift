import Crypto
import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import Foundation
import Logging
import Synchronization

/// An agent whose device is in an attacker's hands: it still holds its client certificate and its TPM,
/// and the TPM signs whatever bytes it is given. The demo uses it to show that envelopes crafted to mean
/// one thing to EdgeProof and another to other readers are refused, although their signatures are genuine.
struct CompromisedAgent {
    let agent: String
    let signer: any EnvelopeSigner
    let broker: any DemoBroker
    let logger: Logger

    /// What came of an attack.
    enum Observation: Sendable {
        case answered(AgentOutcome)
        /// The broker refused the SUBSCRIBE or PUBLISH with this MQTT v5 reason code.
        case refusedByBroker(Int32)
    }

    /// Fetches a real nonce, signs the document `tamper` crafts with the TPM, publishes it on the
    /// agent's own metrics topic, and reports the receipt or rejection that comes back (read as the agent
    /// reads them). For
    /// ``DemoScenario/Tamper/joinNonceShareGroup``: subscribes to the collectors' share group instead.
    func send(_ tamper: DemoScenario.Tamper, location: GeographicRegion) async throws -> Observation {
        let topics = TopicTree()
        let client = try MQTTClient(configuration: broker.clientConfiguration(for: agent), logger: logger)
        let answers = Mutex<[MQTTMessage]>([])
        let messages = client.messages
        let reader = Task {
            for await message in messages { answers.withLock { $0.append(message) } }
        }
        client.start()
        defer { reader.cancel() }
        do {
            try await client.waitUntilConnected(timeout: .seconds(10))
            if tamper == .joinNonceShareGroup {
                let filter = "$share/collectors/\(topics.prefix)/verified/+/nonce/request"
                do {
                    _ = try await client.subscribe(filter)
                } catch let error as MQTTError {
                    if let code = error.reasonCode {
                        await client.shutdown()
                        return .refusedByBroker(code)
                    }
                    throw error
                }
                await client.shutdown()
                return .answered(.pendingInSpool)
            }
            _ = try await client.subscribe(topics.agentReceipts(agent))
            _ = try await client.subscribe(topics.agentRejections(agent))
            let reply = try await client.request(
                MQTTMessage(
                    topic: topics.agentNonceRequest(agent), payload: Data("{}".utf8),
                    properties: MQTTProperties(responseTopic: topics.agentNonceResponse(agent))),
                timeout: .seconds(10))
            guard let nonce = try? NonceResponse(strictJSON: reply.payload) else {
                throw DemoError("\(agent): the nonce request was not answered with a nonce")
            }
            let (header, claims) = try tamper.craft(
                agent: agent, signer: signer, nonce: nonce.nonce, location: location, now: Date())
            let protected = Base64URL.encode(header)
            let payload = Base64URL.encode(claims)
            let signature = try await signer.signature(forDigest: SHA256.hash(data: Data("\(protected).\(payload)".utf8)))
            let envelope = #"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(Base64URL.encode(signature))"}"#
            try await client.publish(MQTTMessage(topic: topics.agentMetrics(agent), payload: Data(envelope.utf8)))

            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let arrived = answers.withLock { $0 }
                for message in arrived {
                    if message.topic == topics.agentReceipts(agent),
                        let receipt = try? Receipt(strictJSON: message.payload)
                    {
                        await client.shutdown()
                        return .answered(.accepted(receipt))
                    }
                    if message.topic == topics.agentRejections(agent),
                        let rejection = try? Rejection(strictJSON: message.payload)
                    {
                        await client.shutdown()
                        return .answered(.rejected(rejection))
                    }
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            await client.shutdown()
            return .answered(.pendingInSpool)
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

extension DemoScenario.Tamper {
    /// The protected header and the claims document to sign, as bytes.
    func craft(
        agent: String, signer: any EnvelopeSigner, nonce: String, location: GeographicRegion, now: Date
    ) throws -> (header: [UInt8], claims: [UInt8]) {
        let hash = signer.publicKeyHash.hex
        let alg = signer.algorithm.rawValue
        let stamp = Timestamp.string(from: self == .timestampOutsideNonceWindow ? Date(timeIntervalSince1970: 4_070_908_800) : now)
        let hashInClaims = self == .uppercaseKeyHash ? hash.uppercased() : hash
        let place = #"{"city":"\#(location.city ?? "")","region":"\#(location.region)","state":"\#(location.state ?? "")"}"#
        let sample = #"{"metric_type":"system","timestamp":"\#(stamp)","values":{"cpu_percent":12.5}}"#
        let service = #"{"instance_id":"\#(agent)","name":"edgeproof-demo","version":"1"}"#
        var claims =
            #"{"agent_name":"\#(agent)","geographic_region":\#(place),"#
            + #""metrics":{"samples":[\#(sample)],"service":\#(service)},"nonce":"\#(nonce)","#
            + #""timestamp":"\#(stamp)","tpm_public_key_hash":"\#(hashInClaims)","v":1}"#
        switch self {
        case .duplicateMember:
            // First the allowed place (what a first-wins reader keeps), then Berlin (what Python,
            // JavaScript, Go and Jackson keep).
            claims.removeLast()
            claims += #","geographic_region":{"city":"Berlin","region":"EU","state":"Germany"}}"#
        case .trailingComma:
            claims.removeLast()
            claims += ",}"
        case .uppercaseKeyHash, .timestampOutsideNonceWindow, .joinNonceShareGroup:
            break
        }
        let kid = self == .uppercaseKeyHash ? hash.uppercased() : hash
        let header = #"{"alg":"\#(alg)","kid":"\#(kid)","typ":"edgeproof+jws"}"#
        return (Array(header.utf8), Array(claims.utf8))
    }
}
