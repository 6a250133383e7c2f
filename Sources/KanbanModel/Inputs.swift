/// The fields `lane.update` may change; nil leaves a field alone.
public struct LanePatch: Equatable, Sendable {
    public var kind: LaneKind?
    public var claimMode: ClaimMode?
    public var maxConcurrency: Int?
    public var leaseSeconds: Int?
    public var allowedStatusMutations: StatusMutationPolicy?
    public var command: [String]?
    public var profile: String?
    public var workspacePolicy: WorkspacePolicy?
    public var repo: String?
    public var maxRuntimeSeconds: Int?
    public var keepWorkspaces: Bool?
    /// A new CURVE public key; "" removes the lane's key.
    public var curvePublicKey: String?
    /// A new memory setting (`Lane.memory`).
    public var memory: MemoryMode?
    /// A new memory owner lane; "" removes it.
    public var memoryOwner: String?
    public init() {}

    /// Applies the patch to `lane`.
    public func applied(to lane: Lane) -> Lane {
        var l = lane
        if let kind { l.kind = kind }
        if let claimMode { l.claimMode = claimMode }
        if let maxConcurrency { l.maxConcurrency = maxConcurrency }
        if let leaseSeconds { l.leaseSeconds = leaseSeconds }
        if let allowedStatusMutations { l.allowedStatusMutations = allowedStatusMutations }
        if let command { l.command = command }
        if let profile { l.profile = profile }
        if let workspacePolicy { l.workspacePolicy = workspacePolicy }
        if let repo { l.repo = repo }
        if let maxRuntimeSeconds { l.maxRuntimeSeconds = maxRuntimeSeconds }
        if let keepWorkspaces { l.keepWorkspaces = keepWorkspaces }
        if let curvePublicKey { l.curvePublicKey = curvePublicKey.isEmpty ? nil : curvePublicKey }
        if let memory { l.memory = memory }
        if let memoryOwner { l.memoryOwner = memoryOwner.isEmpty ? nil : memoryOwner }
        return l
    }
}

/// A new task, as `task.create` takes it.
public struct TaskSpec: Equatable, Sendable {
    public var title: String
    public var body: String?
    public var assignee: String?
    public var priority: Int
    public var parents: [String]
    public var idempotencyKey: String?
    public var tenant: String?
    public init(title: String, body: String? = nil, assignee: String? = nil, priority: Int = 0,
                parents: [String] = [], idempotencyKey: String? = nil, tenant: String? = nil) {
        self.title = title; self.body = body; self.assignee = assignee; self.priority = priority
        self.parents = parents; self.idempotencyKey = idempotencyKey; self.tenant = tenant
    }
}

