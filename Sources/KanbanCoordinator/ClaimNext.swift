import KanbanModel
import KanbanProtocol
import KanbanStore

/// `complete` with `claim_next: true`: a worker that loops claim → work → complete saves one round
/// trip per task by asking for its next task in the `complete` itself.
extension Operations {
    /// Completes the claim and, in the same transaction, claims the lane's best task. The completion
    /// stands even when no next task can be had: a refusal of the next claim (nothing ready, the lane
    /// full or gone, a watch lane) leaves `next` empty.
    ///
    /// The refusal is caught and the transaction goes on, which is safe only because a `BoardError`
    /// from a claim leaves nothing half-written (TaskCommands.swift): each attempt to open a claim is
    /// decided by the run row's insert before anything of it is written, and each demotion runs in a
    /// savepoint of the store's, undone whole if it fails; the demotions that went through are Hermes'
    /// bookkeeping and stand, as in Hermes. Any other error (the storage failed, a `BoardFault`) is not
    /// caught: it undoes the completion too.
    /// (`ClaimNextFaultTests` injects a failure after the run row and finds no orphan run.)
    func completeAndClaimNext(_ proof: ClaimProof, _ ending: ClaimEnding, minter: inout TokenMinter) throws -> Outcome {
        try store.inTransaction {
            let task = try store.endClaim(proof, ending, nowMs: clock.nowMs())
            var grant: ClaimGrant?
            // The claim's lane: a running task's assignee cannot change, so it is the lane that held it.
            if let lane = task.assignee {
                do {
                    grant = try claim(ClaimRequest(lane: lane), minter: &minter)
                } catch is BoardError {
                    grant = nil  // a refusal: nothing of it is half-written (see above), the completion stands
                }
            }
            return .completed(task: task, next: grant)
        }
    }
}
