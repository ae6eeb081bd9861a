internal import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

extension MQTTError {
    /// Throws unless `rc` is MOSQ_ERR_SUCCESS; the error carries the operation and libmosquitto's text
    /// (or the C library's, for MOSQ_ERR_ERRNO).
    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(MQTTError) {
        guard rc != MOSQ_ERR_SUCCESS.rawValue else { return }
        throw library(rc, operation())
    }

    static func library(_ rc: Int32, _ operation: String) -> MQTTError {
        let text =
            rc == MOSQ_ERR_ERRNO.rawValue
            ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc))
        return MQTTError(kind: .library(operation: operation, code: rc, text: text))
    }

    /// The broker refused with an MQTT v5 reason code.
    static func refused(_ operation: String, reasonCode: Int32) -> MQTTError {
        MQTTError(kind: .refused(operation: operation, reasonCode: reasonCode, text: reasonText(reasonCode)))
    }

    /// libmosquitto codes that say the connection was missing or lost, or the system was short of
    /// something: another attempt may succeed.
    static func isTransientLibraryCode(_ code: Int32) -> Bool {
        [MOSQ_ERR_NOMEM, MOSQ_ERR_NO_CONN, MOSQ_ERR_CONN_LOST, MOSQ_ERR_ERRNO].contains { Int32($0.rawValue) == code }
    }

    static func reasonText(_ reasonCode: Int32) -> String {
        String(cString: mosquitto_reason_string(reasonCode))
    }
}
