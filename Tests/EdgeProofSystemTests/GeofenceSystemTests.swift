import EdgeProofAgent
import EdgeProofCore
import EdgeProofDemo
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import ServiceLifecycle
import Testing

@Suite("proof of geofencing, end to end")
struct GeofenceSystemTests {
    @Test("an agent whose receiver leaves the fence mid-run: accepted before, location_outside_fence after, and it keeps running")
    func agentMovesOutOfItsFence() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        // The allowlist's place gets the Santa Clara fence (a file beside it) and the agent GNSS requirements.
        try Data(DemoGeography.santaClaraFence.utf8).write(to: system.directory.appending("santa-clara.geojson"))
        let file = AllowlistFile(path: system.allowlistPath)
        var allowlist = try file.load()
        guard var entry = allowlist.entry(named: "agent-001") else { throw TestFixtureError("no agent-001") }
        entry.allowedPlaces = [
            AllowedPlace(region: "US", state: "California", city: "Santa Clara", fenceFile: "santa-clara.geojson")
        ]
        entry.locationRequirements = LocationRequirement(minimumSource: .gnss, maximumAccuracyMeters: 50)
        try allowlist.replace(entry)
        try file.save(allowlist)

        let (monitor, statuses) = try await system.monitor()
        let services = ServiceGroup(
            services: try system.collector("collector-1").services + system.gateway().services, logger: system.logger)
        let santaClara = DemoGeography.insideSantaClara
        let sanJose = DemoGeography.downtownSanJose
        let gpsdPort = try FreePort.next()
        let agent = try system.agent("agent-001", sampleInterval: 0.5, gpsd: "127.0.0.1:\(gpsdPort)")
        let agentGroup = ServiceGroup(services: try agent.services(system.logger), logger: system.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            for component in ["collector/collector-1", "gateway/gateway"] {
                try await statuses.waitForOnline(component)
            }
            // The receiver from now on: 20 s in central Santa Clara, then downtown San Jose.
            let fixes = NMEALog.track(from: Date(), count: 240) { index, time in
                let position = index < 20 ? santaClara : sanJose
                return NMEALog.Fix(time: time, latitude: position.latitude, longitude: position.longitude)
            }
            let receiver = try GPSFake.start(replaying: fixes, name: "moving", in: system.directory.url, port: gpsdPort)
            defer { receiver.stop() }
            group.addTask { try await agentGroup.run() }
            // Until gpsd's first fix the agent signs "no fix" (refused); then fixes inside are accepted.
            func outside() -> Int { agent.counters["rejected.location_outside_fence"] ?? 0 }
            func accepted() -> Int { agent.counters["accepted"] ?? 0 }
            let insideAccepted = try await Poll.until(timeout: .seconds(40), every: .milliseconds(100)) { accepted() >= 1 }
            #expect(insideAccepted, "counters: \(agent.counters)")
            let refusedWhileInside = outside()
            let movedOut = try await Poll.until(timeout: .seconds(60), every: .milliseconds(100)) {
                outside() >= refusedWhileInside + 3
            }
            #expect(movedOut, "counters: \(agent.counters)")
            // Out of the fence for good: refusals go on, acceptances stop, the agent keeps running.
            let acceptedOut = accepted()
            let refusedOut = outside()
            let goesOn = try await Poll.until(timeout: .seconds(15), every: .milliseconds(100)) {
                outside() >= refusedOut + 3
            }
            #expect(goesOn, "counters: \(agent.counters)")
            #expect(accepted() <= acceptedOut + 1, "an envelope in flight at the move may still land; counters: \(agent.counters)")
            await agentGroup.triggerGracefulShutdown()
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        await monitor.shutdown()

        // What was stored was signed inside the fence, with the receiver's evidence.
        let records = try system.records(of: "collector-1")
        #expect(!records.isEmpty)
        for record in records {
            #expect(record.geolocation?.source == .gnss)
            #expect(abs((record.geolocation?.longitude ?? 0) - santaClara.longitude) < 1e-6, "\(String(describing: record.geolocation))")
        }
    }
}
