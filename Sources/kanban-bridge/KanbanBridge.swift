import ArgumentParser

@main
struct KanbanBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kanban-bridge",
        abstract: "Run persistent and pooled workers against a Hermes-compatible Kanban board over ZeroMQ.",
        discussion: """
            Start a coordinator on an embedded board:   kanban-bridge serve
            Register a lane (prints its token once):    kanban-bridge lanes register factory --kind persistent
            Create work for it:                         kanban-bridge task create "Build widget" --assignee factory
            Claim, then finish it, as the lane:         KANBAN_LANE_TOKEN=lt_… kanban-bridge claim --lane factory
                                                        kanban-bridge complete --task t_… --claim-token ct_…

            Admin commands find the admin token in $KANBAN_BRIDGE_ADMIN_TOKEN or in admin.token next to --db.
            Lane commands use $KANBAN_LANE_TOKEN. Every command takes --json for machine-readable output.

            Exit codes: 0 ok, 1 internal, 2 bad request or usage, 3 nothing to claim, 4 unauthorized or
            forbidden, 5 not found, 6 conflict/not_ready/not_assigned/lane_full, 7 not_claim_owner or
            stale_claim, 8 coordinator unreachable.
            """,
        version: BridgeVersion.current,
        subcommands: [
            Serve.self, Lanes.self, TaskCommand.self,
            Claim.self, Heartbeat.self, Complete.self, Block.self, Release.self,
            Events.self, Ping.self,
        ]
    )
}

enum BridgeVersion {
    static let current = "0.1.0"
}
