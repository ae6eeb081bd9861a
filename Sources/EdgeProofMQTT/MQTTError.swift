/// A transport failure: a libmosquitto call, a refused connection, a negative acknowledgement
/// from the broker (with its MQTT v5 reason code), or a timeout.
public struct MQTTError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        /// A libmosquitto call failed: operation, MOSQ_ERR code, library text.
        case library(operation: String, code: Int32, text: String)
        /// The broker answered with an MQTT v5 reason code ≥ 0x80.
        case refused(operation: String, reasonCode: Int32, text: String)
        case timedOut(operation: String, seconds: Double, lastProblem: String?)
        case shutDown
        case invalidArgument(String)
    }

    let kind: Kind

    /// The MQTT v5 reason code when the broker refused something (e.g. 135 not authorized).
    public var reasonCode: Int32? {
        if case .refused(_, let code, _) = kind { return code }
        return nil
    }

    /// True when the client's deadline passed before the broker answered.
    public var isTimeout: Bool {
        if case .timedOut = kind { return true }
        return false
    }

    public static let shutDown = MQTTError(kind: .shutDown)

    /// True for failures that a later attempt may not meet: the connection was not there or was lost
    /// (libmosquitto's NO_CONN, CONN_LOST, NOMEM, ERRNO), a timeout. A refusal by the broker, an invalid
    /// argument, a packet too large are not.
    public var isTransient: Bool {
        switch kind {
        case .library(_, let code, _): Self.isTransientLibraryCode(code)
        case .timedOut, .shutDown: true
        case .refused, .invalidArgument: false
        }
    }

    static func invalidArgument(_ message: String) -> MQTTError {
        MQTTError(kind: .invalidArgument(message))
    }

    static func timedOut(_ operation: String, after seconds: Double, lastProblem: String? = nil) -> MQTTError {
        MQTTError(kind: .timedOut(operation: operation, seconds: seconds, lastProblem: lastProblem))
    }

    public var description: String {
        switch kind {
        case .library(let operation, let code, let text):
            "\(operation) failed: \(text) (mosquitto error \(code))"
        case .refused(let operation, let reasonCode, let text):
            "\(operation) refused by the broker: \(text) (reason \(reasonCode))"
        case .timedOut(let operation, let seconds, let lastProblem):
            "\(operation) timed out after \(seconds) s" + (lastProblem.map { "; last problem: \($0)" } ?? "")
        case .shutDown:
            "the MQTT client has shut down"
        case .invalidArgument(let message):
            message
        }
    }
}
