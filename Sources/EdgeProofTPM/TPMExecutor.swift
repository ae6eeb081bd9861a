import Dispatch

/// Runs a ``TPMDevice``'s jobs on its own serial queue. ESAPI calls block until the TPM answers (a
/// hardware TPM takes 25–200 ms per signature), which must not stall a thread of the cooperative pool.
///
/// Also a task executor: a task that signs in a loop (the agent's send loop) runs on this queue with
/// `withTaskExecutorPreference`, and each of its calls into the device is then a plain call on the same
/// thread instead of two thread handoffs, there and back (about 20 µs a signature on a 2-core VM with
/// swtpm, `edgeproof bench agent`). Every job runs isolated to the serial executor: the queue runs one job
/// at a time either way.
final class TPMExecutor: SerialExecutor, TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }
}
