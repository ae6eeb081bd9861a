internal import CMosquitto
import Foundation
import Synchronization

/// What libmosquitto reports, as Swift values. Called on the network thread; implementations only
/// record state and resume waiters.
protocol MosquittoEvents: AnyObject, Sendable {
    /// Returns the subscriptions to renew: all of them, on every connection.
    func didConnect(reasonCode: Int32, sessionPresent: Bool, capabilities: BrokerCapabilities)
        -> [(filter: String, qos: MQTTQoS)]
    /// The renewing SUBSCRIBEs just sent, by message id (their SUBACKs arrive through didSubscribe).
    func didRenewSubscriptions(_ renewed: [(messageID: Int32, filter: String)])
    func didDisconnect(reasonCode: Int32)
    func didFailToConnect(_ error: MQTTError)
    func didPublish(messageID: Int32, reasonCode: Int32)
    func didSubscribe(messageID: Int32, grantedQoS: [Int32])
    func didReceive(_ message: MQTTMessage)
}

/// Owns one `struct mosquitto` and the thread that drives its network loop. The only place that
/// touches libmosquitto.
///
/// The loop is ours rather than `mosquitto_loop_start`'s: that one gives up for good after a TLS
/// or protocol error (a broker killed mid-handshake), and an edge client must keep reconnecting. It waits
/// with poll(2) rather than `mosquitto_loop`'s select(2), which refuses any socket numbered
/// FD_SETSIZE (1024) or above: a process with a thousand clients (a bench's simulated agents; each
/// client holds three descriptors) would have every later client fail with "invalid function arguments".
final class MosquittoClient {
    private static let libraryInitialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    private let handle: OpaquePointer  // struct mosquitto *
    private let configuration: MQTTConfiguration
    private let events: any MosquittoEvents
    private let stopRequested = Atomic<Bool>(false)
    /// Signalled to cut a reconnect backoff short when stopping.
    private let wakeUp = DispatchSemaphore(value: 0)
    private let exited = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    /// A pipe whose read end the network thread polls beside the socket: other threads write a byte after
    /// queueing a packet, so that it goes out at once (libmosquitto's own wake-up pipe serves select only).
    private let wakePipe: (read: Int32, write: Int32)

    init(configuration: MQTTConfiguration, events: any MosquittoEvents) throws(MQTTError) {
        _ = Self.libraryInitialized
        var pipeDescriptors: [Int32] = [-1, -1]
        guard pipe(&pipeDescriptors) == 0 else {
            throw MQTTError.library(MOSQ_ERR_ERRNO.rawValue, "wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for descriptor in pipeDescriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        wakePipe = (pipeDescriptors[0], pipeDescriptors[1])
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanStart, nil) else {
            close(pipeDescriptors[0])
            close(pipeDescriptors[1])
            throw MQTTError.library(MOSQ_ERR_NOMEM.rawValue, "mosquitto_new")
        }
        self.handle = handle
        self.configuration = configuration
        self.events = events
        try configure()
    }

    deinit {
        mosquitto_destroy(handle)
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// QoS 1 messages the broker may send before our acknowledgements (MQTT v5 Receive Maximum).
    static let receiveMaximum: Int32 = 1000

    private func configure() throws(MQTTError) {
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try MQTTError.check(
            mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "set MQTT v5")
        try MQTTError.check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "set TCP_NODELAY")
        // libmosquitto sends at most this many QoS 1 messages before PUBACKs; the broker's receive
        // maximum lowers it further. Our own bound (maximumPendingPublishes) covers the queue behind it.
        let sendMaximum = Int32(clamping: min(max(configuration.maximumPendingPublishes, 1), 65535))
        try MQTTError.check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, sendMaximum), "set send maximum")
        // The broker sends at most this many QoS 1 messages before our PUBACKs (libmosquitto's default is
        // 20). libmosquitto acknowledges on receipt, so a higher bound costs nothing, while 20 would cap
        // an agent with many envelopes in flight at 20 answers per round trip.
        try MQTTError.check(
            mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, Self.receiveMaximum), "set receive maximum")
        // Called from the network thread and from publishers: libmosquitto must lock internally.
        try MQTTError.check(mosquitto_threaded_set(handle, true), "mosquitto_threaded_set")
        try MQTTError.check(
            mosquitto_tls_set(
                handle, configuration.caFile, nil, configuration.certificateFile, configuration.keyFile, nil),
            "TLS files (CA \(configuration.caFile), certificate \(configuration.certificateFile ?? "none"))")
        // SSL_VERIFY_PEER; the default TLS versions (1.2 and 1.3). Peer verification is never turned off.
        try MQTTError.check(mosquitto_tls_opts_set(handle, 1, nil, nil), "TLS options")
        if let will = configuration.will {
            try setWill(will)
        }
        if let username = configuration.username, !username.isEmpty {
            // No password: the certificate authenticates; brokers that want the CN as the MQTT user name
            // (ejabberd) compare the two, mosquitto with use_identity_as_username ignores it.
            try MQTTError.check(mosquitto_username_pw_set(handle, username, nil), "MQTT user name")
        }
        mosquitto_connect_v5_callback_set(handle) { _, userdata, reasonCode, flags, properties in
            guard let client = MosquittoClient.from(userdata) else { return }
            if reasonCode == 0 { client.connectedAt.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
            let renew = client.events.didConnect(
                reasonCode: reasonCode, sessionPresent: flags & 1 != 0,
                capabilities: MosquittoClient.readCapabilities(properties))
            guard reasonCode == 0 else { return }
            var renewed = [(messageID: Int32, filter: String)]()
            for (filter, qos) in renew {
                // Queued by libmosquitto (we are inside its callback); SUBACK arrives through didSubscribe.
                var messageID: Int32 = 0
                if mosquitto_subscribe_v5(client.handle, &messageID, filter, qos.rawValue, 0, nil) == MOSQ_ERR_SUCCESS.rawValue {
                    renewed.append((messageID, filter))
                }
            }
            client.events.didRenewSubscriptions(renewed)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, reasonCode, _ in
            guard let client = MosquittoClient.from(userdata) else { return }
            client.lastDisconnectReason.store(reasonCode, ordering: .relaxed)
            client.events.didDisconnect(reasonCode: reasonCode)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, messageID, reasonCode, _ in
            MosquittoClient.from(userdata)?.events.didPublish(messageID: messageID, reasonCode: reasonCode)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, messageID, count, granted, _ in
            let grantedQoS = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
            MosquittoClient.from(userdata)?.events.didSubscribe(messageID: messageID, grantedQoS: grantedQoS)
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, properties in
            guard let client = MosquittoClient.from(userdata), let message else { return }
            let payload =
                message.pointee.payload.map { Data(bytes: $0, count: Int(message.pointee.payloadlen)) } ?? Data()
            let received = MQTTMessage(
                topic: message.pointee.topic.map { String(cString: $0) } ?? "",
                payload: payload,
                qos: message.pointee.qos == 0 ? .atMostOnce : .atLeastOnce,
                retain: message.pointee.retain,
                properties: MosquittoClient.readProperties(properties))
            client.events.didReceive(received)
        }
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> MosquittoClient? {
        userdata.map { Unmanaged<MosquittoClient>.fromOpaque($0).takeUnretainedValue() }
    }

    private func setWill(_ will: MQTTMessage) throws(MQTTError) {
        var properties = try Self.makeProperties(will.properties)
        let rc = will.payload.withUnsafeBytes { buffer in
            mosquitto_will_set_v5(
                handle, will.topic, Int32(buffer.count), buffer.baseAddress, will.qos.rawValue, will.retain, properties)
        }
        // On success libmosquitto owns the properties; on failure they are still ours.
        if rc != MOSQ_ERR_SUCCESS.rawValue { mosquitto_property_free_all(&properties) }
        try MQTTError.check(rc, "set last will on \(will.topic)")
    }

    // MARK: Network thread

    /// Starts the thread that connects, runs the network loop and reconnects with backoff until
    /// ``stop()``.
    func start() {
        let thread = Thread { [self] in runNetworkLoop() }
        thread.name = "mqtt \(configuration.clientID)"
        thread.start()
    }

    /// Disconnects cleanly and waits for the network thread to finish.
    func stop() async {
        guard !stopRequested.exchange(true, ordering: .sequentiallyConsistent) else {
            await waitForExit()
            return
        }
        _ = mosquitto_disconnect_v5(handle, 0, nil)
        wakeNetworkThread()
        wakeUp.signal()
        await waitForExit()
    }

    private func waitForExit() async {
        await withCheckedContinuation { continuation in
            let done = exited.withLock { state in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    private var isStopping: Bool { stopRequested.load(ordering: .sequentiallyConsistent) }

    private func runNetworkLoop() {
        var delay = configuration.reconnectDelay.lowerBound
        let addresses = configuration.addresses
        var current = 0
        // Set when the next attempt goes to another address (libmosquitto's reconnect keeps the old one).
        var addressChanged = true
        // Addresses that failed since a connection last worked: the backoff waits only once all have.
        var failedAddresses = 0
        while !isStopping {
            let address = addresses[current]
            let rc: Int32
            if addressChanged {
                rc = connect(to: address)
                addressChanged = false
            } else {
                rc = mosquitto_reconnect(handle)
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                var loopRC = MOSQ_ERR_SUCCESS.rawValue
                while loopRC == MOSQ_ERR_SUCCESS.rawValue && !isStopping {
                    loopRC = step(timeout: idleWait)
                }
                if isStopping { break }
                // The backoff starts over only after a connection that held. One lost soon after it was
                // made (another connection with this identity taking the session over, since the broker
                // makes the certificate CN the client id; a broker that drops the client) keeps growing it:
                // reconnecting at once would take the session back and start a fight in which neither
                // side keeps a connection long enough to use it.
                let connectedAt = connectedAt.exchange(0, ordering: .relaxed)
                let held = connectedAt > 0 && DispatchTime.now().uptimeNanoseconds - connectedAt >= stableNanoseconds
                let takenOver = lastDisconnectReason.exchange(0, ordering: .relaxed) == Self.sessionTakenOver
                if takenOver {
                    delay = configuration.reconnectDelay.upperBound
                } else if held {
                    delay = configuration.reconnectDelay.lowerBound
                }
                if connectedAt > 0, !takenOver { failedAddresses = 0 }
                events.didFailToConnect(MQTTError.library(loopRC, "connection to \(address)"))
            } else {
                events.didFailToConnect(MQTTError.library(rc, "connect to \(address)"))
            }
            if addresses.count > 1 {
                // Fail over: the next node of the cluster at once, and wait only after trying them all.
                current = (current + 1) % addresses.count
                addressChanged = true
                failedAddresses += 1
                if failedAddresses < addresses.count { continue }
                failedAddresses = 0
            }
            _ = wakeUp.wait(timeout: .now() + delay)
            delay = min(delay * 2, configuration.reconnectDelay.upperBound)
        }
        // Let the DISCONNECT queued by stop() reach the broker.
        for _ in 0..<10 where step(timeout: 100) == MOSQ_ERR_SUCCESS.rawValue {}
        let waiters = exited.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// One turn of the network loop on the connected socket: waits up to `timeout` ms for the socket or a
    /// wake-up, reads (which also drives the TLS handshake), writes what is queued, and keeps the
    /// connection alive. MOSQ_ERR_SUCCESS while the connection lives; on an error libmosquitto has already
    /// closed the socket and called the disconnect callback.
    private func step(timeout: Int32) -> Int32 {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        let wantsWrite = mosquitto_want_write(handle)
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
        ]
        if poll(&descriptors, 2, timeout) < 0, errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if descriptors[1].revents & Int16(POLLIN) != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakePipe.read, &drain, drain.count) > 0 {}
        }
        if descriptors[0].revents != 0 {
            let rc = mosquitto_loop_read(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 { return rc == 0 ? MOSQ_ERR_CONN_LOST.rawValue : rc }
        }
        // After reading too: acknowledgements and subscriptions queued by the callbacks go out in this turn.
        if mosquitto_want_write(handle) {
            let rc = mosquitto_loop_write(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 { return rc == 0 ? MOSQ_ERR_CONN_LOST.rawValue : rc }
        }
        return mosquitto_loop_misc(handle)
    }

    /// How long the network thread sleeps when nothing happens (milliseconds): a quarter of the keepalive,
    /// 1 to 15 s. Traffic, queued packets and stop() wake it at once; only the keepalive ping is timed,
    /// and brokers allow 1.5 keepalives. An idle agent wakes every 7.5 s rather than every second.
    private var idleWait: Int32 { Int32(min(max(configuration.keepAlive * 250, 1000), 15_000)) }

    /// Makes the network thread write what another thread has just queued.
    private func wakeNetworkThread() {
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
    }

    /// When the current connection was made (uptime nanoseconds, 0 for none), set by the connect callback
    /// so that the network loop can tell a connection that held from one lost at once.
    let connectedAt = Atomic<UInt64>(0)
    /// A connection that lasted this long (twice the longest reconnect delay, at least a second) resets the
    /// backoff. Twice: a connection taken over by a twin that waited the longest delay lasted about that
    /// long, and must not count as held (brokers before mosquitto 2.0.15 give no reason code to tell).
    private var stableNanoseconds: UInt64 { UInt64(max(configuration.reconnectDelay.upperBound * 2, 1) * 1e9) }
    /// The reason code of the broker's last DISCONNECT, taken by the network loop.
    let lastDisconnectReason = Atomic<Int32>(0)
    /// MQTT v5 reason code 0x8E, Session taken over (sent by mosquitto from 2.0.15 on; 2.0.11 just closes
    /// the old connection, which the rule on connections that did not hold covers).
    static let sessionTakenOver: Int32 = 0x8E

    /// Connects to `address`; libmosquitto keeps it, with the session properties, for every later
    /// mosquitto_reconnect, even when this attempt fails.
    private func connect(to address: BrokerAddress) -> Int32 {
        var properties: OpaquePointer?  // mosquitto_property *
        do {
            properties = try Self.makeSessionProperties(configuration.sessionExpiryInterval)
        } catch {
            return MOSQ_ERR_NOMEM.rawValue
        }
        defer { mosquitto_property_free_all(&properties) }
        return mosquitto_connect_bind_v5(
            handle, address.host, Int32(address.port), Int32(configuration.keepAlive), nil, properties)
    }

    // MARK: Operations (any thread)

    /// Queues a publish and returns its message id. MOSQ_ERR_NO_CONN for QoS 1 means the socket has just
    /// closed: libmosquitto keeps the message and sends it again after the next reconnect, so it is not a
    /// failure (callers only publish while connected; see ``MQTTSession/publishAndWait(count:handedOver:_:)``).
    func publish(_ message: MQTTMessage) throws(MQTTError) -> Int32 {
        var properties = try Self.makeProperties(message.properties)
        defer { mosquitto_property_free_all(&properties) }
        var messageID: Int32 = 0
        let rc = message.payload.withUnsafeBytes { buffer in
            mosquitto_publish_v5(
                handle, &messageID, message.topic, Int32(buffer.count), buffer.baseAddress, message.qos.rawValue,
                message.retain, properties)
        }
        if rc == MOSQ_ERR_NO_CONN.rawValue, message.qos == .atLeastOnce { return messageID }
        try MQTTError.check(rc, "publish to \(message.topic)")
        wakeNetworkThread()
        return messageID
    }

    func subscribe(_ filter: String, qos: MQTTQoS) throws(MQTTError) -> Int32 {
        var messageID: Int32 = 0
        try MQTTError.check(mosquitto_subscribe_v5(handle, &messageID, filter, qos.rawValue, 0, nil), "subscribe to \(filter)")
        wakeNetworkThread()
        return messageID
    }

    // MARK: Properties

    private static func makeSessionProperties(_ expiry: UInt32) throws(MQTTError) -> OpaquePointer? {
        var list: OpaquePointer? = nil  // mosquitto_property *
        let rc = mosquitto_property_add_int32(&list, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), expiry)
        if rc != MOSQ_ERR_SUCCESS.rawValue { mosquitto_property_free_all(&list) }
        try MQTTError.check(rc, "session expiry property")
        return list
    }

    /// A libmosquitto property list for `properties`; the caller frees it.
    private static func makeProperties(_ properties: MQTTProperties) throws(MQTTError) -> OpaquePointer? {
        var list: OpaquePointer? = nil  // mosquitto_property *
        func add(_ rc: Int32, _ what: String) throws(MQTTError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue { mosquitto_property_free_all(&list) }
            try MQTTError.check(rc, "add \(what) property")
        }
        for property in properties.userProperties {
            try add(
                mosquitto_property_add_string_pair(
                    &list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), property.name, property.value),
                "user")
        }
        if let topic = properties.responseTopic {
            try add(mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), topic), "response topic")
        }
        if let data = properties.correlationData {
            guard data.count <= Int(UInt16.max) else { throw MQTTError.invalidArgument("correlation data too long") }
            let rc = data.withUnsafeBytes { buffer in
                mosquitto_property_add_binary(
                    &list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), buffer.baseAddress, UInt16(buffer.count))
            }
            try add(rc, "correlation data")
        }
        if let expiry = properties.messageExpiryInterval {
            try add(
                mosquitto_property_add_int32(&list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue), expiry),
                "message expiry")
        }
        if let contentType = properties.contentType {
            try add(
                mosquitto_property_add_string(&list, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType),
                "content type")
        }
        return list
    }

    /// The CONNACK's capability properties; libmosquitto frees the list itself.
    private static func readCapabilities(_ list: OpaquePointer?) -> BrokerCapabilities {
        var capabilities = BrokerCapabilities()
        var current = list
        while let property = current {
            let identifier = mosquitto_property_identifier(property)
            var byte: UInt8 = 0
            var short: UInt16 = 0
            var word: UInt32 = 0
            switch identifier {
            case Int32(MQTT_PROP_SHARED_SUB_AVAILABLE.rawValue):
                if mosquitto_property_read_byte(property, identifier, &byte, false) != nil {
                    capabilities.sharedSubscriptionAvailable = byte != 0
                }
            case Int32(MQTT_PROP_RETAIN_AVAILABLE.rawValue):
                if mosquitto_property_read_byte(property, identifier, &byte, false) != nil {
                    capabilities.retainAvailable = byte != 0
                }
            case Int32(MQTT_PROP_WILDCARD_SUB_AVAILABLE.rawValue):
                if mosquitto_property_read_byte(property, identifier, &byte, false) != nil {
                    capabilities.wildcardSubscriptionAvailable = byte != 0
                }
            case Int32(MQTT_PROP_MAXIMUM_QOS.rawValue):
                if mosquitto_property_read_byte(property, identifier, &byte, false) != nil {
                    capabilities.maximumQoS = Int(byte)
                }
            case Int32(MQTT_PROP_RECEIVE_MAXIMUM.rawValue):
                if mosquitto_property_read_int16(property, identifier, &short, false) != nil, short > 0 {
                    capabilities.receiveMaximum = Int(short)
                }
            case Int32(MQTT_PROP_TOPIC_ALIAS_MAXIMUM.rawValue):
                if mosquitto_property_read_int16(property, identifier, &short, false) != nil {
                    capabilities.topicAliasMaximum = Int(short)
                }
            case Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue):
                if mosquitto_property_read_int32(property, identifier, &word, false) != nil, word > 0 {
                    capabilities.maximumPacketSize = Int(word)
                }
            default:
                break
            }
            current = mosquitto_property_next(property)
        }
        return capabilities
    }

    /// Copies a received property list into Swift values; libmosquitto frees the list itself.
    private static func readProperties(_ list: OpaquePointer?) -> MQTTProperties {
        var properties = MQTTProperties()
        var current = list
        while let property = current {
            let identifier = mosquitto_property_identifier(property)
            switch identifier {
            case Int32(MQTT_PROP_USER_PROPERTY.rawValue):
                var name: UnsafeMutablePointer<CChar>? = nil
                var value: UnsafeMutablePointer<CChar>? = nil
                if mosquitto_property_read_string_pair(property, identifier, &name, &value, false) != nil,
                    let name, let value
                {
                    properties.userProperties.append(MQTTUserProperty(String(cString: name), String(cString: value)))
                }
                free(name)
                free(value)
            case Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), Int32(MQTT_PROP_CONTENT_TYPE.rawValue):
                var text: UnsafeMutablePointer<CChar>? = nil
                if mosquitto_property_read_string(property, identifier, &text, false) != nil, let text {
                    if identifier == Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue) {
                        properties.responseTopic = String(cString: text)
                    } else {
                        properties.contentType = String(cString: text)
                    }
                }
                free(text)
            case Int32(MQTT_PROP_CORRELATION_DATA.rawValue):
                var bytes: UnsafeMutableRawPointer? = nil
                var length: UInt16 = 0
                if mosquitto_property_read_binary(property, identifier, &bytes, &length, false) != nil {
                    properties.correlationData = bytes.map { Data(bytes: $0, count: Int(length)) } ?? Data()
                }
                free(bytes)
            case Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue):
                var value: UInt32 = 0
                if mosquitto_property_read_int32(property, identifier, &value, false) != nil {
                    properties.messageExpiryInterval = value
                }
            default:
                break
            }
            current = mosquitto_property_next(property)
        }
        return properties
    }
}

// libmosquitto locks internally once `mosquitto_threaded_set(true)`; our own state is atomic or in a Mutex.
extension MosquittoClient: @unchecked Sendable {}
