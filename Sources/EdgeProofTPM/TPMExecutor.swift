import Dispatch

/// Runs a ``TPMDevice``'s jobs on its own serial queue. ESAPI calls block until the TPM answers (a
/// hardware TPM takes 25–200 ms per signature), which must not stall a thread of the cooperative pool.
final class TPMExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }
}
