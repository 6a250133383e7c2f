import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging

/// Writes: the `WriteQueue` decides what runs and whom to answer `busy`; here the batches run in one
/// transaction each and their answers, held in the `Outbox`, go out after the COMMIT.
extension Coordinator {
    /// Requests that arrived together. Reads are answered at once, outside any write transaction:
    /// WAL readers never wait for a writer, so `ping`, `task.get` or `events` are answered even while
    /// another program holds the board's write lock. Writes join the write queue; the loop sends them
    /// out in group commits (`flushWrites`).
    func handleArrivals(_ batch: [Outbox.Request]) {
        let now = clock.nowMs()
        for request in batch {
            guard let admitted = admit(request.frames, curveKey: request.curveKey) else { continue }
            guard admitted.decoded.request.isMutation else {
                carryOut(admitted.envelope, executeRead(admitted))
                continue
            }
            let wait = Int64(admitted.decoded.timeoutMs ?? config.writeWaitMs)
            let arrival = writes.arrive(.init(envelope: admitted.envelope, decoded: admitted.decoded, caller: admitted.caller,
                                              deadlineMs: now + wait))
            if arrival == .answerBusy {
                send(admitted.envelope, Reply.error(WireError(.busy, "too many writes are waiting for the board's write lock; "
                                                              + "nothing changed, retry the same request shortly")))
            }
        }
    }

    /// Group commit: the writes that are waiting run in one transaction and their answers go out
    /// after its single COMMIT (one fsync for all of them), so no `ok` leaves before its change is
    /// durable. Nothing waits for company: a lone request is a batch of one. Each request's writes are
    /// savepoints (`atomically` nests), so a refused request undoes only its own. If another program
    /// holds the write lock, the writes stay queued (the loop goes on serving reads) until their
    /// clients' deadlines, and are then answered `busy`: every request gets exactly one reply.
    func flushWrites() {
        var now = clock.nowMs()
        while let batch = writes.nextBatch(nowMs: now, max: Outbox.maxBatch) {
            outbox.clear()
            do {
                try store.atomically {
                    for pending in batch {
                        let answer = executeWrite(pending)
                        outbox.hold(pending.envelope, answer)
                    }
                }
                noteWritten(lockedMs: writes.committed(batch.count, nowMs: now))
                for held in outbox.held { carryOut(held.envelope, held.answer) }
            } catch BoardError.busy where outbox.held.isEmpty {
                noteLocked(nowMs: now)  // nothing ran: all of it stays queued
            } catch {
                // The COMMIT failed: nothing of the batch is on disk, so nobody may hear `ok`. (A claim
                // parked by the batch is parked all the same: parking wrote nothing.)
                let busy = (error as? BoardError) == .busy
                log.error("a batch of requests could not be committed", metadata: ["requests": "\(batch.count)", "error": "\(error)"])
                let reply = Reply.error(busy ? WireError(.busy, Operations.busyMessage)
                                        : WireError(.internal, "the board could not be written; retry with the same request_id"))
                if outbox.held.isEmpty {
                    for pending in batch { send(pending.envelope, reply) }
                }
                for held in outbox.held {
                    if case .park = held.answer { carryOut(held.envelope, held.answer) } else { send(held.envelope, reply) }
                }
                writes.failed(batch.count)
            }
            outbox.clear()
            now = clock.nowMs()
        }
        let expired = writes.takeExpired(nowMs: now)
        if !expired.isEmpty {
            log.warning("answered busy: the board's write lock was not free within the clients' deadlines",
                        metadata: ["requests": "\(expired.count)"])
        }
        for pending in expired { send(pending.envelope, Reply.error(WireError(.busy, Operations.busyMessage))) }
    }

    /// One write attempt outside the request path (timers, dispatcher reports): nil when another
    /// program holds the lock (try again on a later turn) or when the write failed (logged).
    func attemptWrite<T>(_ what: String, _ body: () throws -> T) -> T? {
        let now = clock.nowMs()
        guard writes.mayWrite(nowMs: now) else { return nil }
        do {
            let value = try store.atomically(body)
            noteWritten(lockedMs: writes.noteWritten(nowMs: now))
            return value
        } catch BoardError.busy {
            noteLocked(nowMs: now)
        } catch {
            log.error("could not write to the board", metadata: ["what": "\(what)", "error": "\(error)"])
        }
        return nil
    }

    /// A write found the board's write lock taken: the queue pauses (logged at the start of a spell).
    func noteLocked(nowMs: Int64) {
        if writes.noteLocked(nowMs: nowMs) {
            log.warning("another program holds the board's write lock; writes wait, reads are still answered",
                        metadata: ["waiting_writes": "\(writes.pending.count)"])
        }
    }

    /// A write went through; `lockedMs` is how long the spell of contention it ended lasted, if any.
    func noteWritten(lockedMs: Int64?) {
        if let lockedMs {
            log.notice("the board's write lock is free again; waiting writes went through", metadata: ["locked_ms": "\(lockedMs)"])
        }
    }
}
