namespace TimeoutBudget.Samples;

/// <summary>
/// Seed 002: API 20 s &lt; workflow 40 s &lt; worker 120 s = proxy 120 s, with "use the last good result" on timeout.
/// Scaled 1 s → 2 ms. Without a reserve the fallback shares the workflow's deadline and has no time left to run.
/// </summary>
internal sealed class Seed002LastGoodResult : ISample
{
    private static readonly TimeSpan Workflow = TimeSpan.FromMilliseconds(80);
    private static readonly TimeSpan ApiCall = TimeSpan.FromMilliseconds(40);
    private static readonly TimeSpan Reserve = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan ApiLatency = TimeSpan.FromMilliseconds(30);
    private static readonly TimeSpan FallbackWork = TimeSpan.FromMilliseconds(8);

    public string Id => "002";

    public string Title => "agent workflow with a last-good-result fallback behind a worker and a proxy";

    public async Task<IReadOnlyList<SampleRow>> RunAsync()
    {
        var planBefore = BudgetPlan.Create("proxy", TimeSpan.FromSeconds(120), p => p
            .Child("worker", TimeSpan.FromSeconds(120), w => w
                .Child("workflow", TimeSpan.FromSeconds(40), f => f.Child("anthropic-api", TimeSpan.FromSeconds(20)))));
        var planAfter = BudgetPlan.Create("proxy", TimeSpan.FromSeconds(130), p => p
            .Child("worker", TimeSpan.FromSeconds(120), w => w
                .Child("workflow", TimeSpan.FromSeconds(40), f => f
                    .WithReserve(TimeSpan.FromSeconds(10))
                    .Child("anthropic-api", TimeSpan.FromSeconds(20)))));
        foreach (var violation in planBefore.Validate())
        {
            Console.WriteLine($"   before, plan: {violation}");
        }

        var before = await AsDeployedAsync();
        var after = await WithReserveAsync();
        Console.WriteLine($"   before: {before}");
        Console.WriteLine($"   after:  {after}");
        return
        [
            new("002", "plan violations (worker vs proxy)", planBefore.Validate().Count.ToString(), planAfter.Validate().Count.ToString(), planAfter.Validate().Count < planBefore.Validate().Count),
            new("002", "user got the last good SQL", before.StartsWith("SQL", StringComparison.Ordinal) ? "yes" : "no", after.StartsWith("SQL", StringComparison.Ordinal) ? "yes" : "no",
                after.StartsWith("SQL", StringComparison.Ordinal) && !before.StartsWith("SQL", StringComparison.Ordinal)),
        ];
    }

    private static async Task<string> AsDeployedAsync()
    {
        using var workflow = new CancellationTokenSource(Workflow);
        string? lastGood = null;
        try
        {
            while (true)
            {
                using var api = CancellationTokenSource.CreateLinkedTokenSource(workflow.Token);
                api.CancelAfter(ApiCall);
                lastGood = await CallModelAsync(lastGood, api.Token);
            }
        }
        catch (OperationCanceledException)
        {
            try
            {
                // The fallback runs on the workflow's own deadline, which has just passed.
                return await ValidateAsync(lastGood, workflow.Token);
            }
            catch (OperationCanceledException)
            {
                return "error: the fallback was cancelled with the workflow; the user saw a failure";
            }
        }
    }

    private static async Task<string> WithReserveAsync()
    {
        using var workflow = Budget.Start("workflow", Workflow, new BudgetOptions { Reserve = Reserve });
        string? lastGood = null;
        while (true)
        {
            using var api = workflow.Child("anthropic-api", ApiCall);
            if (api.Allotted < ApiLatency)
            {
                break;
            }

            var attempt = await api.TryRunAsync(token => CallModelAsync(lastGood, token));
            if (!attempt.IsCompleted)
            {
                break;
            }

            lastGood = attempt.Value;
        }

        // The reserve is still ours: the children could not touch it.
        var fallback = await workflow.TryRunAsync(token => ValidateAsync(lastGood, token));
        return fallback.IsCompleted ? fallback.Value! : "error: " + fallback;
    }

    private static async Task<string> CallModelAsync(string? previous, CancellationToken token)
    {
        await Task.Delay(ApiLatency, token);
        return previous is null ? "SELECT 1" : previous + " /* refined */";
    }

    private static async Task<string> ValidateAsync(string? sql, CancellationToken token)
    {
        await Task.Delay(FallbackWork, token);
        return sql is null ? "error: no result yet" : "SQL: " + sql;
    }
}
