namespace TimeoutBudget.Http.Tests.Integration;

/// <summary>
/// The loopback tests that assert how late control comes back against a real clock. They run after the rest of the
/// assembly and one at a time: a property-based fuzz run on every core beside them is scheduling delay they would
/// otherwise measure as lateness.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WallClockCollection
{
    public const string Name = "Wall clock on loopback";
}
