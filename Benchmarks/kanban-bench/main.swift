import KanbanBench

BenchCommand.main()
