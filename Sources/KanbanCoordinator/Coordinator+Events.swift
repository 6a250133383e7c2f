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
            if !batch.isEmpty {
                if dispatcher != nil { dispatchWanted = true }
                leaseTimers.committed(batch, at: readClocks())
                for event in batch where event.seq > lastPublishedSeq {
                    let body = WireFormat.eventBytes(event)
                    try? publisher?.send([Array(event.topic.utf8), body], dontWait: true)
                    lastPublishedSeq = event.seq
                    if let lane = event.lane { touched.insert(lane) }
                }
            }
            guard let offer = parked.offer(lanes: touched, boardWritable: writes.mayWrite(nowMs: clock.nowMs())) else { return }
            touched = []
            offerWork(offer)
        }
    }

    /// Offers work to parked claims, one at a time, as `ParkedClaims` says; a claim found is sent
    /// at once (its transaction has committed).
    func offerWork(_ offer: ParkedClaims.Offer) {
        var offer = offer
        while let entry = parked.next(&offer) {
            let result = offerWork(to: entry)  // I/O: a claim, its reply; then the machine is told
            parked.settle(&offer, result)
        }
    }

    private func offerWork(to entry: ParkedClaims.Entry) -> ParkedClaims.OfferResult {
        guard writes.mayWrite(nowMs: clock.nowMs()) else { return .boardLocked }
        do {
            guard let grant = try operations.claim(entry.request) else { return .nothing }
            carryOut(entry.envelope, claimAnswer(grant, retryable: false))
            return .answered
        } catch BoardError.laneFull {
            return .nothing  // keep waiting: a slot may free before the deadline
        } catch BoardError.busy {
            noteLocked(nowMs: clock.nowMs())
            return .boardLocked
        } catch let error as BoardError {
            send(entry.envelope, Reply.error(Operations.wireError(error)))
            return .answered
        } catch {
            send(entry.envelope, Reply.error(WireError(.internal, "claim failed: \(type(of: error))")))
            return .answered
        }
    }
}
