using TimeoutBudget.Samples;

// Replays each seed incident twice — as deployed ("before") and with budgets ("after") — with every timeout scaled
// from seconds down to milliseconds, and prints what was measured. `dotnet run -- 000` runs one sample.
var samples = new ISample[]
{
    new Seed000AgentInvocation(),
    new Seed001UnattributedFailure(),
    new Seed002LastGoodResult(),
    new Seed003StuckRuns(),
    new Seed004SwallowedError(),
};

var selected = args.Length == 0 ? samples : samples.Where(s => args.Contains(s.Id)).ToArray();
if (selected.Length == 0)
{
    Console.Error.WriteLine($"Unknown sample '{string.Join(" ", args)}'. Known: {string.Join(", ", samples.Select(s => s.Id))}.");
    return 2;
}

var rows = new List<SampleRow>();
foreach (var sample in selected)
{
    Console.WriteLine($"== {sample.Id}: {sample.Title}");
    var sampleRows = await sample.RunAsync();
    foreach (var row in sampleRows)
    {
        Console.WriteLine($"   {row.Measure,-42} before: {row.Before,-28} after: {row.After}");
    }

    rows.AddRange(sampleRows);
    Console.WriteLine();
}

SampleTable.Print(rows);
return rows.All(r => r.AfterIsBetter) ? 0 : 1;
