import ArgumentParser
import EdgeProofService
import EdgeProofCore
import EdgeProofStorage
import Foundation

extension EdgeProof {
    struct AllowlistCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allowlist",
            abstract: "Manage the agent allowlist file (JSON or YAML by extension) shared by gateway and collectors.",
            subcommands: [
                Add.self, Remove.self, List.self, Show.self, Revoke.self, Activate.self, Validate.self, Pending.self,
                Approve.self, Reject.self, Expect.self, VerifyEvidence.self,
            ]
        )
    }
}

struct AllowlistFileOption: ParsableArguments {
    @Option(name: .long, help: "Allowlist file (.json, .yaml or .yml).")
    var file: String

    var allowlistFile: AllowlistFile { AllowlistFile(path: file) }
}

extension EdgeProof.AllowlistCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an agent with its TPM public key and allowed places; creates the file if needed.",
            discussion: """
                The key hash is computed from the key. Give places with --region/--state/--city, or one or
                more --place in the prototype's Country/State/City form.

                Example: edgeproof allowlist add --file allowlist.yaml --name agent-001 \\
                           --public-key agent-001.pem --region US --state California --city "Santa Clara"
                """
        )

        @OptionGroup var options: AllowlistFileOption
        @Option(help: "Agent name: the CN of its client certificate (letters, digits, '.', '_', '-').")
        var name: String
        @Option(name: .customLong("public-key"), help: "PEM file of the agent's public key ('-' for stdin).")
        var publicKey: String
        @OptionGroup var placeOptions: PlaceOptions

        func validate() throws {
            guard AgentName.isValid(name) else {
                throw ValidationError(
                    "agent name \"\(name)\" is invalid; use 1-\(AgentName.maximumLength) letters, digits, '.', '_' or '-'")
            }
            guard !placeOptions.isEmpty else {
                throw ValidationError("give at least one allowed place with --region or --place")
            }
        }

        func run() throws {
            let pem = try readPEM(publicKey)
            let key = try AgentPublicKey(pemRepresentation: pem)
            let allowed = try placeOptions.parsed()
            let file = options.allowlistFile
            var allowlist = try file.loadOrEmpty()
            try allowlist.add(
                AllowlistEntry(name: name, key: key, createdAt: Timestamp.string(from: Date()), allowedPlaces: allowed))
            try file.save(allowlist)
            print("added \(name) (\(key.keyDescription), tpm_public_key_hash \(key.hash)) to \(file.url.path)")
        }

        private func readPEM(_ path: String) throws -> String {
            if path == "-" {
                return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            }
            do {
                return try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw CLIError("cannot read public key file \(path)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an agent from the allowlist.")

        @OptionGroup var options: AllowlistFileOption
        @Option(help: "Agent name.") var name: String

        func run() throws {
            let file = options.allowlistFile
            var allowlist = try file.load()
            try allowlist.remove(named: name)
            try file.save(allowlist)
            print("removed \(name) from \(file.url.path)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark an agent revoked: its nonce requests and envelopes are rejected as agent_revoked.")

        @OptionGroup var options: AllowlistFileOption
        @Option(help: "Agent name.") var name: String

        func run() throws {
            try setStatus(.revoked, name: name, file: options.allowlistFile)
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a revoked agent active again.")

        @OptionGroup var options: AllowlistFileOption
        @Option(help: "Agent name.") var name: String

        func run() throws {
            try setStatus(.active, name: name, file: options.allowlistFile)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List agents: name, status, trust level, key type, key hash, places.")

        @OptionGroup var options: AllowlistFileOption

        func run() throws {
            let allowlist = try options.allowlistFile.load()
            let rows = allowlist.entries.map { entry in
                [
                    entry.name, entry.status.rawValue, entry.trustLevel.rawValue,
                    allowlist.publicKey(forAgent: entry.name)?.keyDescription ?? "?",
                    String(entry.publicKeyHash.hex.prefix(16)) + "…",
                    entry.allowedPlaces.map(\.summary).joined(separator: ", "),
                ]
            }
            print(TextTable(header: ["NAME", "STATUS", "TRUST", "KEY", "KEY HASH", "ALLOWED PLACES"], rows: rows).rendered)
            let global = allowlist.policy.globalPlaces
            if !global.isEmpty {
                print("global allowed places: \(global.map(\.summary).joined(separator: ", "))")
            }
            if let requirement = allowlist.policy.location {
                print("global location requirements: \(requirement.summary)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one agent in full, public key included.")

        @OptionGroup var options: AllowlistFileOption
        @Option(help: "Agent name.") var name: String

        func run() throws {
            let allowlist = try options.allowlistFile.load()
            guard let entry = allowlist.entry(named: name) else {
                throw CLIError("no agent named \(name) in \(options.file)")
            }
            print("name:                \(entry.name)")
            print("status:              \(entry.status.rawValue)")
            print("key:                 \(allowlist.publicKey(forAgent: name)?.keyDescription ?? "?")")
            print("tpm_public_key_hash: \(entry.publicKeyHash)")
            print("trust_level:         \(entry.trustLevel)")
            print("created_at:          \(entry.createdAt)")
            print("allowed_places:      \(entry.allowedPlaces.map(\.summary).joined(separator: ", "))")
            let requirement = (allowlist.policy.location ?? LocationRequirement()).overridden(by: entry.locationRequirements)
            print("location rules:      \(requirement.summary) (global, then this agent's location_requirements)")
            print("public_key:")
            print(entry.publicKey.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a file: format, names, keys and their hashes, places. Exit status 1 if invalid.")

        @OptionGroup var options: AllowlistFileOption

        func run() throws {
            let allowlist = try options.allowlistFile.load()
            let revoked = allowlist.entries.filter { $0.status == .revoked }.count
            print("valid: \(allowlist.count) agents (\(revoked) revoked)")
        }
    }
}

private func setStatus(_ status: AgentStatus, name: String, file: AllowlistFile) throws {
    var allowlist = try file.load()
    try allowlist.setStatus(status, forAgent: name)
    try file.save(allowlist)
    print("\(name) is now \(status.rawValue)")
}

extension AllowedPlace {
    /// The place, and its fence when it has one: "US/California/Santa Clara (fence fences/sc.geojson, 10 vertices)".
    var summary: String {
        guard isFenced else { return description }
        let vertices = fence.map { ", \($0.vertexCount) vertices" } ?? ", not loaded"
        return "\(description) (fence \(fenceFile ?? "inline")\(vertices))"
    }
}

extension LocationRequirement {
    /// "source ≥ gnss, accuracy ≤ 50 m, fix age ≤ 30 s, sensors driver=NMEA0183", or "none".
    var summary: String {
        var parts: [String] = []
        if let minimumSource { parts.append("source ≥ \(minimumSource.rawValue)") }
        if let maximumAccuracyMeters { parts.append("accuracy ≤ \(maximumAccuracyMeters) m") }
        if let maximumFixAgeSeconds { parts.append("fix age ≤ \(maximumFixAgeSeconds) s") }
        if let approvedSensors, !approvedSensors.isEmpty {
            parts.append("sensors " + approvedSensors.map(\.description).joined(separator: " | "))
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
