namespace TimeoutBudget.Samples;

/// <summary>
/// Seed 001: script 60 s inside a context of 65 s inside a server of 30 s, and a 500 ms failure nobody could attribute.
/// Scaled 1 s → 10 ms; the mystery 500 ms caller becomes 5 ms.
/// </summary>
internal sealed class Seed001UnattributedFailure : ISample
{
    private static readonly TimeSpan Server = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan GoContext = TimeSpan.FromMilliseconds(650);
    private static readonly TimeSpan Script = TimeSpan.FromMilliseconds(600);
    private static readonly TimeSpan MysteryCaller = TimeSpan.FromMilliseconds(5);

    public string Id => "001";

    public string Title => "script runner behind four layers: who ran out?";

    public async Task<IReadOnlyList<SampleRow>> RunAsync()
    {
        var callerBefore = await AsDeployedAsync(MysteryCaller);
        var callerAfter = await WithBudgetsAsync(MysteryCaller);
        var slowBefore = await AsDeployedAsync(callerTimeout: null);
        var slowAfter = await WithBudgetsAsync(callerTimeout: null);

        Console.WriteLine($"   caller gave up, before: {callerBefore}");
        Console.WriteLine($"   caller gave up, after:  {callerAfter}");
        Console.WriteLine($"   script too slow, before: {slowBefore}");
        Console.WriteLine($"   script too slow, after:  {slowAfter}");
        return
        [
            new("001", "5 ms caller cancel: error says whose", Names(callerBefore), Names(callerAfter), Names(callerAfter) != "nobody" && Names(callerBefore) == "nobody"),
            new("001", "slow script: error names the layer", Names(slowBefore), Names(slowAfter), Names(slowAfter) != "nobody" && Names(slowBefore) == "nobody"),
        ];
    }

    private static string Names(string message) =>
        message.Contains("by its caller", StringComparison.Ordinal) ? "the caller" :
        message.Contains("budget (", StringComparison.Ordinal) ? message[(message.IndexOf('(') + 1)..message.IndexOf(')')] : "nobody";

    private static async Task<string> AsDeployedAsync(TimeSpan? callerTimeout)
    {
        // Each layer arms its own timer; the inner ones are longer than the server's, so whoever fires, the error is the same.
        using var caller = callerTimeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var server = CancellationTokenSource.CreateLinkedTokenSource(caller.Token);
        server.CancelAfter(Server);
        using var goContext = CancellationTokenSource.CreateLinkedTokenSource(server.Token);
        goContext.CancelAfter(GoContext);
        using var script = CancellationTokenSource.CreateLinkedTokenSource(goContext.Token);
        script.CancelAfter(Script);
        try
        {
            await RunScriptAsync(script.Token);
            return "completed";
        }
        catch (OperationCanceledException exception)
        {
            return exception.Message;
        }
    }

    private static async Task<string> WithBudgetsAsync(TimeSpan? callerTimeout)
    {
        using var caller = callerTimeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var server = Budget.Start("server", Server, cancellationToken: caller.Token);
        // The incident's own numbers, unchanged: the budgets clamp them and, above all, name whoever ran out.
#pragma warning disable TB0006 // deliberate: the same misaligned numbers as "before", to show attribution
        using var goContext = server.Child("go-context", GoContext);
        using var script = goContext.Child("python-script", Script);
#pragma warning restore TB0006
        var result = await script.TryRunAsync(async token =>
        {
            await RunScriptAsync(token);
            return true;
        });
        return result.Exception?.Message ?? "completed";
    }

    private static Task RunScriptAsync(CancellationToken token) => Task.Delay(TimeSpan.FromSeconds(2), token);
}
