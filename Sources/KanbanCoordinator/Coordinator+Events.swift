import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import ZeroMQ

/// Publishing what was committed, and offering new work to parked claims.
extension Coordinator {
    /// Publishes every committed event not yet sent, in `seq` order, from what the store's
    /// transactions appended (nothing is read back); then offers work to parked claims of the lanes
    /// those events touched (which may commit and publish more).
    func publishNewEvents() {
        var touched: Set<String> = []
        while true {
            let batch = store.takeCommittedEvents()
            noteLeaseEvents(batch)
            if !batch.isEmpty {
                for event in batch where event.seq > lastPublishedSeq {
                    let body = WireFormat.eventBytes(event)
                    try? publisher?.send([Array(event.topic.utf8), body], dontWait: true)
                    lastPublishedSeq = event.seq
                    if let lane = event.lane { touched.insert(lane) }
                }
            }
            if parked.isEmpty || touched.isEmpty { return }
            let lanes = touched
            touched = []
            serveParked(lanes: lanes)
        }
    }

    func serveParked(lanes: Set<String>) {
        guard writes.mayWrite(nowMs: clock.nowMs()) else {
            parkedRetry.formUnion(lanes)  // offered again once the board's write lock is free
            return
        }
        parked.serve(lanes: lanes) { entry in
            guard writes.mayWrite(nowMs: clock.nowMs()) else {
                parkedRetry.insert(entry.request.lane)
                return false
            }
            do {
                guard let grant = try operations.claim(entry.request) else { return false }
                deliver(grant, to: entry.envelope)
                return true
            } catch BoardError.laneFull {
                return false  // keep waiting: a slot may free before the deadline
            } catch BoardError.busy {
                noteLocked(nowMs: clock.nowMs(), waiting: writes.pending.count)
                parkedRetry.insert(entry.request.lane)
                return false
            } catch let error as BoardError {
                send(entry.envelope, Reply.error(Operations.wireError(error)))
                return true
            } catch {
                send(entry.envelope, Reply.error(WireError(.internal, "claim failed: \(type(of: error))")))
                return true
            }
        }
    }
}
