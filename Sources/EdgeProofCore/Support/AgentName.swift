/// Agent names are MQTT topic levels and TLS certificate CNs at once, so they are restricted to
/// characters that are safe in both and in file names: letters, digits, `.`, `_`, `-`; 1–64 long.
public enum AgentName {
    public static let maximumLength = 64

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard (1...maximumLength).contains(utf8.count), utf8.first != UInt8(ascii: "."),
            utf8.first != UInt8(ascii: "-")
        else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
