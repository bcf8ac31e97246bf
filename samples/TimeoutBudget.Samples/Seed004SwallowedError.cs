namespace TimeoutBudget.Samples;

/// <summary>
/// Seed 004: experiments stuck in "processing". The "timeout" was really a ValidationException (a DynamoDB key schema
/// mismatch) that a catch-all swallowed, so no terminal status was ever written. Scaled 1 s → 1 ms.
/// </summary>
internal sealed class Seed004SwallowedError : ISample
{
    private static readonly TimeSpan ExperimentTimeout = TimeSpan.FromMilliseconds(100);

    public string Id => "004";

    public string Title => "work stuck in \"processing\" after a swallowed non-timeout error";

    public async Task<IReadOnlyList<SampleRow>> RunAsync()
    {
        var experiments = new Func<CancellationToken, Task<string>>[]
        {
            async token => { await Task.Delay(10, token); return "psnr 45 dB"; },
            async token => { await Task.Delay(5, token); throw new ValidationException("The provided key element does not match the schema"); },
            async token => { await Task.Delay(TimeSpan.FromSeconds(5), token); return "never"; },
        };

        var before = new List<string>();
        var after = new List<string>();
        foreach (var experiment in experiments)
        {
            before.Add(await AsDeployedAsync(experiment));
            after.Add(await WithBudgetAsync(experiment));
        }

        Console.WriteLine($"   before: {string.Join(" | ", before)}");
        Console.WriteLine($"   after:  {string.Join(" | ", after)}");
        var stuckBefore = before.Count(s => s == "processing");
        var stuckAfter = after.Count(s => s == "processing");
        return
        [
            new("004", "experiments stuck in \"processing\" (of 3)", stuckBefore.ToString(), stuckAfter.ToString(), stuckAfter < stuckBefore),
            new("004", "schema error reported as itself", before[1].Contains("ValidationException") ? "yes" : "no", after[1].Contains("ValidationException") ? "yes" : "no",
                after[1].Contains("ValidationException") && !before[1].Contains("ValidationException")),
        ];
    }

    private static async Task<string> AsDeployedAsync(Func<CancellationToken, Task<string>> experiment)
    {
        var status = "processing";
        using var timeout = new CancellationTokenSource(ExperimentTimeout);
        try
        {
            await experiment(timeout.Token);
            status = "completed";
        }
        catch (OperationCanceledException)
        {
            // Treated as "probably a timeout, the worker will retry" — and nothing was written.
        }
        catch (Exception)
        {
            // Swallowed: assumed to be another timeout.
        }

        return status;
    }

    private static async Task<string> WithBudgetAsync(Func<CancellationToken, Task<string>> experiment)
    {
        using var budget = Budget.Start("experiment", ExperimentTimeout);
        var result = await budget.TryRunAsync(experiment);
        return result.Outcome switch
        {
            BudgetOutcome.Completed => "completed",
            BudgetOutcome.Expired => $"timed out ({result.ExpiredLayer})",
            BudgetOutcome.Cancelled => "cancelled by caller",
            _ => $"failed: {result.Exception!.GetType().Name}",
        };
    }

    private sealed class ValidationException(string message) : Exception(message);
}
