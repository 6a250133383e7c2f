import KanbanModel
import KanbanProtocol
import KanbanStore

/// `complete` with `claim_next: true`: a worker that loops claim → work → complete saves one round
/// trip per task by asking for its next task in the `complete` itself.
extension Operations {
    /// Completes the claim and, in the same transaction, claims the lane's best task. The completion
    /// stands even when no next task can be had: a refusal of the next claim (nothing ready, the lane
    /// full or gone, a watch lane) leaves `next` empty. The claim's own writes (run row, task update)
    /// are in a savepoint of the store's, undone whole if they fail; the demotions it makes on the way
    /// are Hermes' bookkeeping and stand, as in Hermes.
    func completeAndClaimNext(_ proof: ClaimProof, _ ending: ClaimEnding, minter: inout TokenMinter) throws -> Outcome {
        try store.inTransaction {
            let task = try store.endClaim(proof, ending, nowMs: clock.nowMs())
            var grant: ClaimGrant?
            // The claim's lane: a running task's assignee cannot change, so it is the lane that held it.
            if let lane = task.assignee {
                do {
                    grant = try claim(ClaimRequest(lane: lane), minter: &minter)
                } catch is BoardError {
                    grant = nil
                }
            }
            return .completed(task: task, next: grant)
        }
    }
}
