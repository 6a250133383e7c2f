/// The administrator's transitions, readiness bookkeeping and announcements.
extension TaskLifecycle {
    /// Takes a running task back (from a lane or from a Hermes worker): run `reclaimed`, task `ready`,
    /// as Hermes' manual `reclaim_task`.
    public static func reclaim(_ task: TaskState?, taskID: String, reason: String?) throws(BoardError) -> LifecycleEffects {
        guard let task else { throw .notFound("no task '\(taskID)'") }
        guard task.status == .running else {
            throw .conflict("task \(task.id) is \(task.status.rawValue); only a running task can be reclaimed")
        }
        let payload: JSONValue = ["manual": true, "reason": .of(reason), "prev_lock": .of(task.claimLock)]
        return LifecycleEffects(
            task: TaskUpdate(task.id, .status(.running), requeued),
            runs: task.currentRunID.map { [.close(runID: $0, outcome: .reclaimed, summary: nil,
                                                  error: "manual_reclaim: \(reason ?? "by admin")", metadata: nil)] } ?? [],
            events: [LifecycleEvent(.reclaimed, taskID: task.id, lane: task.assignee, runID: task.currentRunID,
                                    hermesPayload: payload, data: payload)],
            followUps: [.announce(taskID: task.id)])
    }

    /// Puts a blocked or scheduled task back: `ready`, or `todo` while a parent is unfinished. A person
    /// unblocking is a fresh start: the failure streak and any backoff go (`block_recurrences` stays, as in Hermes).
    public static func unblock(_ task: TaskState?, taskID: String) throws(BoardError) -> LifecycleEffects {
        guard let task else { throw .notFound("no task '\(taskID)'") }
        guard task.status == .blocked || task.status == .scheduled else {
            throw .conflict("task \(task.id) is \(task.status.rawValue); only a blocked or scheduled task can be unblocked")
        }
        let status = Readiness.initialStatus(parentsFinished: task.parentsFinished)
        let payload: JSONValue? = status == .todo ? ["status": "todo"] : nil
        return LifecycleEffects(
            task: TaskUpdate(task.id, .status(task.status), [
                (.status, .text(status.rawValue)), (.currentRunID, .null), (.consecutiveFailures, .int(0)), (.lastFailureError, .null)]),
            events: [LifecycleEvent(.unblocked, taskID: task.id, lane: task.assignee, hermesPayload: payload, data: payload ?? [:])],
            followUps: [.clearBackoff(taskID: task.id), .announce(taskID: task.id)])
    }

    /// Gives the task to another lane (or to nobody). Not while a claim runs it. A human reassigning is
    /// a recovery action: the new lane does not inherit the failure streak.
    public static func assign(_ task: TaskState?, taskID: String, to assignee: String?) throws(BoardError) -> LifecycleEffects {
        guard let task else { throw .notFound("no task '\(taskID)'") }
        if task.status == .running && task.claimLock != nil {
            throw .conflict("cannot reassign \(task.id): it is running under a claim; wait for it to finish or reclaim it")
        }
        let changes = task.assignee != assignee
        return LifecycleEffects(
            task: changes ? TaskUpdate(task.id, .any, [(.assignee, .of(assignee)), (.consecutiveFailures, .int(0)), (.lastFailureError, .null)]) : nil,
            events: [LifecycleEvent(.assigned, taskID: task.id, lane: assignee, hermesPayload: ["assignee": .of(assignee)],
                                    data: ["assignee": .of(assignee), "previous": .of(task.assignee)])],
            followUps: changes ? [.announce(taskID: task.id)] : [])
    }

    /// `parent` must finish before `child` runs. A ready child now waits for an unfinished parent, as in Hermes.
    public static func link(parent: String, parentStatus: TaskStatus?, child: TaskState?, childID: String,
                            closesCycle: Bool) throws(BoardError) -> LifecycleEffects {
        guard let parentStatus else { throw .notFound("no task '\(parent)'") }
        guard let child else { throw .notFound("no task '\(childID)'") }
        if parent == child.id { throw .invalid("a task cannot depend on itself") }
        if closesCycle { throw .conflict("linking \(parent) -> \(child.id) would create a cycle") }
        let payload: JSONValue = ["parent": .string(parent), "child": .string(child.id)]
        return LifecycleEffects(
            task: parentStatus.releasesChildren ? nil
                : TaskUpdate(child.id, .status(.ready), [(.status, .text(TaskStatus.todo.rawValue))], mustApply: false),
            events: [LifecycleEvent(.linked, taskID: child.id, lane: child.assignee, hermesPayload: payload, data: payload)],
            newLink: TaskLink(parent: parent, child: child.id))
    }

    /// After a parent finished: a `todo` child whose parents are all done or archived goes `ready`
    /// (Hermes' `promoted`, NULL payload) and is announced. Nil when it still waits.
    ///
    /// Hermes' own recompute_ready also promotes `blocked` children; the bridge leaves a blocked task to
    /// the person who must unblock it, and Hermes skips those whose last word is `blocked` anyway.
    public static func promote(_ child: TaskState) -> LifecycleEffects? {
        guard child.status == .todo, child.parentsFinished else { return nil }
        var promoted = child
        promoted.status = .ready
        return LifecycleEffects(
            task: TaskUpdate(child.id, .status(.todo), [(.status, .text(TaskStatus.ready.rawValue))], mustApply: false),
            events: [LifecycleEvent(.promoted, taskID: child.id, lane: child.assignee)],
            followUps: [.announceKnown(promoted)])
    }

    /// `<lane>.available` when the task is claimable by its assignee now, unless the lane only pulls
    /// (`laneMode` nil: no lane has the name; announced anyway, so dashboards see unserved work).
    public static func announcement(_ task: TaskState, laneMode: ClaimMode?) -> LifecycleEvent? {
        guard let lane = task.assignee, !task.backingOff,
              Readiness.isClaimable(status: task.status, claimLock: task.claimLock, parentsFinished: task.parentsFinished),
              laneMode?.announcesWork != false else { return nil }
        return LifecycleEvent(.available, taskID: task.id, lane: lane, data: ["priority": .int(Int64(task.priority))])
    }

    /// A backoff ended: the task is claimable from now, which is when Hermes should date it.
    public static func backoffOver(_ task: TaskState, lastRunID: Int64?) -> LifecycleEffects {
        var effects = LifecycleEffects(followUps: [.announce(taskID: task.id)])
        if task.status == .ready, let run = lastRunID {
            effects.events.append(requeuedRow(task.id, runID: run, why: "backoff_over"))
        }
        return effects
    }

    /// A new task's status and its `created` event (Hermes' payload shape).
    public static func create(id: String, spec: TaskSpec, parents: [String], parentStatuses: [TaskStatus]) -> (TaskStatus, LifecycleEvent) {
        let status = Readiness.initialStatus(parentStatuses: parentStatuses)
        let payload: JSONValue = [
            "assignee": .of(spec.assignee), "status": .string(status.rawValue),
            "parents": .array(parents.map { .string($0) }), "tenant": .of(spec.tenant),
            "branch_name": .null, "skills": .null, "goal_mode": .null,
        ]
        return (status, LifecycleEvent(.created, taskID: id, lane: spec.assignee, hermesPayload: payload, data: payload))
    }
}
