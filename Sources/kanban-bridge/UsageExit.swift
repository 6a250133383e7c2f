import CommandLineExit

extension KanbanBridge {
    /// Usage errors exit 2 (`mainExitingTwoOnUsageErrors`).
    static func main() { mainExitingTwoOnUsageErrors(Self.self) }
}
