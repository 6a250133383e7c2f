import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import ZeroMQ

/// The one place answers go out. Whoever decides an answer returns it (`Answer`); whoever holds it
/// knows when it may go (a read's at once, a batch's after its COMMIT); this carries it out.
extension Coordinator {
    /// Carries an answer out now: sends it, releases a claim that cannot be delivered, or parks.
    func carryOut(_ envelope: [[UInt8]], _ answer: Answer) {
        switch answer {
        case .reply(let bytes):
            send(envelope, bytes)
        case .claim(let bytes, let release):
            // If the client has gone and could not get the claim by retrying (no request_id), it is
            // released, so the task is not held by nobody until its lease ends.
            if !send(envelope, bytes), let release { releaseUndelivered(release) }
        case .park(let request):
            parked.park(.init(envelope: envelope, request: request, deadlineMs: clock.nowMs() + Int64(request.waitMs)))
        }
    }

    /// A granted claim's answer (logged when granted). `retryable`: its client sent a request_id and
    /// gets the same claim by resending, so an undelivered reply does not release it.
    func claimAnswer(_ grant: ClaimGrant, retryable: Bool, reply: [UInt8]? = nil) -> Answer {
        log.info("claimed", metadata: ["task": "\(grant.task.id)", "lane": "\(grant.task.assignee ?? "?")", "run": "\(grant.runID)"])
        return .claim(reply ?? Reply.okClaim(grant), release: retryable ? nil : grant)
    }

    private func releaseUndelivered(_ grant: ClaimGrant) {
        let proof = ClaimProof(principal: .admin, taskID: grant.task.id, tokenHash: Secrets.hash(grant.token))
        do {
            _ = try store.endClaim(proof, .release(reason: "client went away before the claim reached it"), nowMs: clock.nowMs())
            log.notice("released an undeliverable claim", metadata: ["task": "\(grant.task.id)", "run": "\(grant.runID)"])
        } catch {
            log.error("could not release an undeliverable claim", metadata: ["task": "\(grant.task.id)", "error": "\(error)"])
        }
    }

    /// Sends a reply now; false when it could not be delivered. Only for answers that may go now:
    /// nothing here knows about batches (a batch's answers wait in the `Outbox`).
    @discardableResult
    func send(_ envelope: [[UInt8]], _ reply: [UInt8]) -> Bool {
        do {
            try router?.send(envelope + [reply], dontWait: true)
            return true
        } catch let error as ZMQError where error.isAgain {
            // The peer's queue looks full. It may only look so (libzmq learns late that the peer read):
            // catch up and try once more. Still full means the peer has `perPeerMessages` unread
            // replies and is not reading: it loses this one (memory stays bounded).
            router?.catchUp()
            if (try? router?.send(envelope + [reply], dontWait: true)) != nil { return true }
            log.debug("reply not delivered (the client does not read its replies)")
            return false
        } catch {
            log.debug("reply not delivered (client gone)", metadata: ["error": "\(error)"])
            return false
        }
    }
}
