import CommandLineExit

extension KanbanEvents {
    /// Usage errors exit 2, as in `kanban-bridge` (`mainExitingTwoOnUsageErrors`).
    static func main() { mainExitingTwoOnUsageErrors(Self.self) }
}
