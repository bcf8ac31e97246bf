namespace TimeoutBudget.Tests.Soak;

/// <summary>
/// Tests that judge what the whole process retains (<see cref="GC.GetTotalMemory(bool)"/>) run alone: another test class
/// holding its own objects while they sample would read as a leak (a CI run saw 7.5 MB grow to 28.8 MB that way, while the
/// soak alone and the full assembly run stayed flat).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMemoryCollection
{
    public const string Name = "Process-wide memory";
}
