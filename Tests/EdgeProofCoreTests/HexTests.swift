import EdgeProofCore
import Testing

@Suite("Hex: one reading of every hex field")
struct HexTests {
    @Test("lowercase hex round-trips every byte")
    func roundTrips() {
        let bytes = (0...255).map(UInt8.init)
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Hex.encode([0x0a, 0xff]) == "0aff")
    }

    @Test("uppercase digits, signs, spaces, odd lengths and non-ASCII are refused", arguments: [
        "0A", "+f", "-1", " 0", "0", "abc", "0x00", "éé", "0a\n",
    ])
    func refusesNonCanonical(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
