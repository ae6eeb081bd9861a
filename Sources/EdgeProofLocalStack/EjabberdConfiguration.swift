import Foundation

/// An ejabberd 23.01 node's `ejabberd.yml` for EdgeProof: one `mod_mqtt` listener on 127.0.0.1 with TLS
/// and client certificates (`tls_verify`: the MQTT user name, or the client id when none is sent, must be
/// the certificate's CN), and the access rules of broker/acl translated into `mod_mqtt`'s
/// `access_publish`/`access_subscribe`, so that mosquitto and ejabberd enforce one set of rules.
///
/// The translation: a role is a CN prefix (`gateway*`, `collector*`, `registrar*`, `bridge*`, `monitor*`),
/// an ACL of `user_regexp`; everyone else is an agent. `pattern` lines are granted to agents only, which is
/// what the mosquitto file's `deny` lines achieve for the roles there (ejabberd's filters only grant, so the
/// deny lines are dropped). `@NAME@`, `%u` and `%c` become `%u` (the user, which `tls_verify` binds to the
/// CN). Topics beginning with `$` (the dynamic security plugin's control topic) are mosquitto's own and are
/// dropped: ejabberd refuses every publish to a `$` topic anyway.
public struct EjabberdConfiguration: Sendable {
    /// One grant: who may publish to (or subscribe to filters inside) a topic filter.
    struct Grant: Hashable {
        var filter: String
        var roles: Set<String>
    }

    static let roles = ["gateway", "collector", "registrar", "bridge", "monitor"]
    static let agent = "agent"

    /// Topic filter → roles that may publish there, and that may subscribe there.
    let publish: [String: Set<String>]
    let subscribe: [String: Set<String>]

    /// Translates broker/acl (mosquitto's acl_file syntax with EdgeProof's `#@role` blocks).
    public init(acl text: String, topicPrefix: String = "edgeproof/v1") throws {
        var publish: [String: Set<String>] = [:]
        var subscribe: [String: Set<String>] = [:]
        var role: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.hasPrefix("#@role ") {
                role = String(line.dropFirst("#@role ".count))
                continue
            }
            if line.hasPrefix("#@end") {
                role = nil
                continue
            }
            if line.hasPrefix("#") || line.allSatisfy(\.isWhitespace) { continue }
            let fields = line.split(separator: " ").map(String.init)
            let access: String
            let topic: String
            let grantee: String
            switch (fields.first, fields.count) {
            case ("user", 2) where role != nil:
                continue
            case ("pattern", 3) where role == nil:
                (access, topic, grantee) = (fields[1], fields[2], Self.agent)
            case ("topic", 2) where role != nil:
                (access, topic, grantee) = ("readwrite", fields[1], role ?? "")
            case ("topic", 3) where role != nil:
                (access, topic, grantee) = (fields[1], fields[2], role ?? "")
            default:
                throw LocalStackError("broker/acl:\(index + 1): cannot translate '\(line)' for ejabberd")
            }
            guard ["read", "write", "readwrite", "deny"].contains(access) else {
                throw LocalStackError("broker/acl:\(index + 1): unknown access '\(access)'")
            }
            // admin is mosquitto's dynamic security administrator: nothing of it exists in ejabberd.
            guard access != "deny", grantee == Self.agent || Self.roles.contains(grantee) else { continue }
            let filter = topic.replacingOccurrences(of: "@PREFIX@", with: topicPrefix)
                .replacingOccurrences(of: "@NAME@", with: "%u").replacingOccurrences(of: "%c", with: "%u")
            guard !filter.hasPrefix("$") else { continue }
            if access == "write" || access == "readwrite" { publish[filter, default: []].insert(grantee) }
            if access == "read" || access == "readwrite" { subscribe[filter, default: []].insert(grantee) }
        }
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Reads broker/acl from the package.
    public static func fromPackage(topicPrefix: String = "edgeproof/v1") throws -> EjabberdConfiguration {
        let url = URL(fileURLWithPath: PackagePaths.script("broker/acl"))
        do {
            return try EjabberdConfiguration(acl: try String(contentsOf: url, encoding: .utf8), topicPrefix: topicPrefix)
        } catch let error as LocalStackError {
            throw error
        } catch {
            throw LocalStackError("cannot read \(url.path): \(error)")
        }
    }

    /// The access rule name for a set of grantees (stable, so that the rendered file diffs cleanly).
    static func ruleName(_ grantees: Set<String>) -> String {
        "ep_" + grantees.sorted().joined(separator: "_")
    }

    /// `ejabberd.yml` for a node whose MQTT listener is 127.0.0.1:`mqttPort`.
    /// `certificateFiles`: the broker's certificate and key and the CA (PEM); `caFile`: the CA client
    /// certificates must chain to.
    public func render(mqttPort: UInt16, certificateFiles: [String], caFile: String) -> String {
        let grants = Set(publish.values).union(subscribe.values)
        var lines: [String] = [
            "# Written by EdgeProof (EjabberdConfiguration) from broker/acl; see broker/README.md.",
            "hosts:",
            "  - localhost",
            "loglevel: info",
            "log_rotate_count: 0",
            "certfiles:",
        ]
        lines += certificateFiles.map { "  - \(Self.quoted($0))" }
        lines += [
            "c2s_cafile: \(Self.quoted(caFile))",
            "listen:",
            "  - port: \(mqttPort)",
            "    ip: \"127.0.0.1\"",
            "    module: mod_mqtt",
            "    backlog: 4096",
            "    tls: true",
            // The client certificate must verify against c2s_cafile and its CN must be the user name.
            "    tls_verify: true",
            // No password is ever accepted: there are no registered users, and the certificate decides.
            "auth_method: [internal]",
            "acl:",
        ]
        for role in Self.roles {
            lines += ["  \(role):", "    user_regexp: \"^\(role)\""]
        }
        lines += ["  roles:", "    user_regexp:"]
        lines += Self.roles.map { "      - \"^\($0)\"" }
        lines.append("access_rules:")
        for grantees in grants.sorted(by: { Self.ruleName($0) < Self.ruleName($1) }) {
            lines.append("  \(Self.ruleName(grantees)):")
            for role in grantees.sorted() where role != Self.agent {
                lines.append("    - allow: \(role)")
            }
            if grantees.contains(Self.agent) {
                // An agent is anyone whose CN has no role prefix.
                lines += ["    - deny: roles", "    - allow: all"]
            }
        }
        lines += [
            "modules:",
            "  mod_mqtt:",
            // Sessions survive a dropped connection as they do on mosquitto (not a restart of their node).
            "    session_expiry: 300",
            "    max_queue: 100000",
            "    access_publish:",
        ]
        lines += publish.keys.sorted().map { "      \(Self.quoted($0)): \(Self.ruleName(publish[$0] ?? []))" }
        lines.append("    access_subscribe:")
        lines += subscribe.keys.sorted().map { "      \(Self.quoted($0)): \(Self.ruleName(subscribe[$0] ?? []))" }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
