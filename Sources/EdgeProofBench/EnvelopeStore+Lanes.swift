import EdgeProofCollector
import EdgeProofCore
import Foundation

extension EnvelopeStore {
    /// What the benchmarks measure: `items` stored as the collector's envelope workers store them,
    /// `lanes` workers at once, each taking batches of ``Collector/maximumBatch`` of its share (items
    /// `lane`, `lane + lanes`, …) and checking one while the previous is written. Returns how many were
    /// stored and one outcome that was not `stored`, if any.
    func storeInLanes(_ items: [Item], lanes: Int, allowlist: Allowlist) async -> (stored: Int, refused: Outcome?) {
        let lanes = max(1, lanes)
        return await withTaskGroup(of: (Int, Outcome?).self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    let mine = Array(stride(from: lane, to: items.count, by: lanes))
                    var next = 0
                    var stored = 0
                    var refused: Outcome?
                    await run(
                        batches: {
                            guard next < mine.count else { return nil }
                            defer { next += Collector.maximumBatch }
                            return mine[next..<min(mine.count, next + Collector.maximumBatch)].map { items[$0] }
                        },
                        allowlist: { allowlist },
                        answer: { _, outcomes in
                            for outcome in outcomes {
                                if case .stored = outcome { stored += 1 } else { refused = outcome }
                            }
                        })
                    return (stored, refused)
                }
            }
            var total = (stored: 0, refused: Outcome?.none)
            for await (stored, refused) in group {
                total.stored += stored
                total.refused = total.refused ?? refused
            }
            return total
        }
    }
}
