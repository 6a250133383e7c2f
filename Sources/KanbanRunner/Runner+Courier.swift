import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol

/// The courier: the one thread that talks to the coordinator about running claims. Each pass reaps
/// workers and applies their limits, sends output (which renews the lease) or a heartbeat, and ends
/// the claims of workers that exited, by the lane's exit table.
extension Runner {
    func courierPass(_ client: CommandClient, now: Int64) {
        superviseProcesses(now: now)
        for slot in slots.withLock({ $0 }) {
            if case .starting = slot.phase {
                beatIfDue(slot, client, now: now)
                continue
            }
            if case .claimLost? = slot.stop {
                if case .running = slot.phase { continue }  // being stopped; dropped once it exited
                slots.withLock { $0.removeAll { $0.runID == slot.runID } }
                slotFreed.signal()
                continue
            }
            if !flushOutput(slot, client, now: now) { continue }
            if case .running = slot.phase { beatIfDue(slot, client, now: now); continue }
            guard slot.output.ended || slot.stop == .drain, slot.output.pendingCount == 0, slot.pendingLog == nil else { continue }
            finish(slot, client)
        }
    }

    /// Reaps workers that ended and applies time limits and stop grace.
    func superviseProcesses(now: Int64) {
        slots.withLock { list in
            for i in list.indices {
                guard case .running(let pid) = list[i].phase else { continue }
                if let status = ProcessControl.reap(pid) {
                    list[i].phase = .exited(status)
                    orphans.forget(runID: list[i].runID)
                    continue
                }
                if let termAt = list[i].terminatedAtMs {
                    if now - termAt >= settings.stopGraceMs { ProcessControl.signalGroup(pid, SIGKILL) }
                } else if list[i].stop != nil {
                    terminate(&list[i], now: now)  // stopped while it was still starting
                } else if let deadline = list[i].deadlineMs, now >= deadline {
                    log.notice("run over its time limit; stopping it", metadata: ["task": "\(list[i].ref.taskID)", "pid": "\(pid)"])
                    list[i].stop = .runtimeLimit
                    terminate(&list[i], now: now)
                }
            }
        }
    }

    func terminate(_ slot: inout RunSlot, now: Int64) {
        guard case .running(let pid) = slot.phase, slot.terminatedAtMs == nil else { return }
        slot.terminatedAtMs = now
        ProcessControl.signalGroup(pid, SIGTERM)
    }

    /// Sends pending output (a chunk renews the lease). False when the coordinator could not be
    /// reached or the claim is gone: nothing more this pass.
    func flushOutput(_ slot: RunSlot, _ client: CommandClient, now: Int64) -> Bool {
        var pending = slot.pendingLog
        if pending == nil {
            // A full chunk goes at once, the last output of an ended worker too; small output waits
            // until a second has passed since the claim was last renewed.
            let due = slot.output.pendingCount >= Request.maxLogChunkBytes || slot.output.ended || slot.stop != nil
                || now >= slot.lastRenewedMs + Self.flushEveryMs
            guard due, let chunk = slot.output.nextChunk(max: Request.maxLogChunkBytes) else { return true }
            pending = (CommandClient.newRequestID(), chunk.text, chunk.bytes)
            update(slot.runID) { $0.pendingLog = pending }
        }
        guard let pending else { return true }
        do {
            _ = try client.call(.logAppend(slot.ref, chunk: pending.text), requestID: pending.requestID)
            slot.output.sent(pending.bytes)
            update(slot.runID) {
                $0.pendingLog = nil
                $0.nextBeatMs = now + $0.leaseMs / 3
            }
            return true
        } catch {
            return handle(error, slot, what: "log.append")
        }
    }

    func beatIfDue(_ slot: RunSlot, _ client: CommandClient, now: Int64) {
        guard now >= slot.nextBeatMs else { return }
        do {
            _ = try client.call(.heartbeat(slot.ref, note: nil, metadata: nil))
            update(slot.runID) { $0.nextBeatMs = now + $0.leaseMs / 3 }
        } catch {
            _ = handle(error, slot, what: "heartbeat")
        }
    }

    func finish(_ slot: RunSlot, _ client: CommandClient) {
        if let request = slot.ending() {
            do {
                _ = try client.call(request, requestID: slot.endRequestID)
                log.info("claim ended", metadata: ["task": "\(slot.ref.taskID)", "run": "\(slot.runID)", "op": "\(request.op.rawValue)"])
            } catch let e as WireError where e.code == .staleClaim || e.code == .notClaimOwner {
                // The worker ended the claim itself (`kanban-bridge complete` in its command), or the
                // coordinator did: either way nothing is left to do.
                log.info("claim already ended", metadata: ["task": "\(slot.ref.taskID)", "run": "\(slot.runID)", "reply": "\(e.message)"])
            } catch {
                _ = handle(error, slot, what: request.op.rawValue)
                return
            }
        }
        slots.withLock { $0.removeAll { $0.runID == slot.runID } }
        slotFreed.signal()
    }

    /// A failed request about a running claim. Out of reach: try again next pass (same request id).
    /// The claim ended on the coordinator: stop the worker, send nothing more. False either way.
    func handle(_ error: Error, _ slot: RunSlot, what: String) -> Bool {
        if let e = error as? WireError, e.code == .staleClaim || e.code == .notClaimOwner || e.code == .notFound {
            log.warning("claim lost; stopping its worker", metadata: ["task": "\(slot.ref.taskID)", "run": "\(slot.runID)", "reply": "\(e.message)"])
            let now = nowMs()
            update(slot.runID) {
                $0.stop = .claimLost(e.message)
                terminate(&$0, now: now)
            }
            return false
        }
        if let e = error as? WireError {
            log.error("\(what) refused", metadata: ["task": "\(slot.ref.taskID)", "code": "\(e.code.rawValue)", "reply": "\(e.message)"])
        } else {
            log.warning("coordinator out of reach; the worker goes on", metadata: ["task": "\(slot.ref.taskID)", "op": "\(what)", "error": "\(error)"])
        }
        return false
    }

    func report(_ client: CommandClient) {
        let running = slots.withLock { $0.map { ($0.lane.lane.name, $0.ref.taskID) } }
        for lane in settings.lanes {
            let tasks = running.filter { $0.0 == lane.lane.name }.map(\.1)
            let r = RunnerReport(lane: lane.lane.name, runnerID: runnerID, host: settings.host, pid: settings.pid,
                                 slots: lane.slots, running: tasks, version: settings.version)
            do { _ = try client.call(.runnerReport(r)) } catch {
                log.debug("runner.report failed", metadata: ["lane": "\(lane.lane.name)", "error": "\(error)"])
            }
        }
    }
}
