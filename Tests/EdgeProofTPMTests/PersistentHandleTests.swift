import EdgeProofTPM
import Testing

@Suite struct PersistentHandleTests {
    @Test(arguments: ["0x81010010", "0X81010010", "0x81000000", "0x817fffff", "0x817FFFFF"])
    func parsesHexHandlesInTheOwnerRange(_ text: String) throws {
        let handle = try PersistentHandle(parsing: text)
        #expect(handle.description == text.lowercased())
    }

    @Test func defaultSigningKeyHandle() {
        #expect(PersistentHandle.defaultSigningKey.rawValue == 0x8102_0010)
        #expect(PersistentHandle.defaultSigningKey.description == "0x81020010")
    }

    @Test(arguments: ["", "0x", "81010010", "0x8101001G", "0x+1010010", "x81010010", "0x1_0000_0000", "0x810100100"])
    func rejectsMalformedHandles(_ text: String) {
        #expect {
            try PersistentHandle(parsing: text)
        } throws: { error in
            "\(error)".contains("expected hex such as 0x81020010") || "\(error)".contains("outside")
        }
    }

    @Test(arguments: ["0x80000000", "0x81800000", "0x40000001", "0x01000000", "0xffffffff"])
    func rejectsHandlesOutsideTheOwnerPersistentRange(_ text: String) {
        #expect {
            try PersistentHandle(parsing: text)
        } throws: { error in
            "\(error)".contains("outside the owner's persistent range 0x81000000–0x817FFFFF")
        }
    }
}
