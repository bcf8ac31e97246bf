using System.Text;

namespace TimeoutBudget.Aws;

/// <summary>
/// Whether an SDK client's configuration fits in a budget: per-attempt timeout × attempts + worst-case backoff must fit in
/// the budget minus its margin, with the arithmetic written out.
/// </summary>
public sealed class AwsBudgetReport
{
    internal AwsBudgetReport(string layer, TimeSpan budget, TimeSpan margin, TimeSpan attemptTimeout, bool timeoutIsDefault, int attempts, IReadOnlyList<TimeSpan> backoffs)
    {
        Layer = layer;
        Budget = budget;
        Margin = margin;
        AttemptTimeout = attemptTimeout;
        TimeoutIsDefault = timeoutIsDefault;
        Attempts = attempts;
        Backoffs = backoffs;
        // Saturates far below overflow: a worst case that large does not fit in any budget anyway.
        var cap = TimeSpan.MaxValue.Ticks / 4;
        var total = TimeSpan.FromTicks(attemptTimeout.Ticks > cap / Math.Max(1, attempts) ? cap : attemptTimeout.Ticks * attempts);
        foreach (var backoff in backoffs)
        {
            total = total.Ticks > cap ? TimeSpan.FromTicks(cap) : total + backoff;
        }

        WorstCase = total;
        Limit = budget - margin;
    }

    /// <summary>The budget's layer.</summary>
    public string Layer { get; }

    /// <summary>The budget the client must fit in.</summary>
    public TimeSpan Budget { get; }

    /// <summary>The margin kept back from the budget.</summary>
    public TimeSpan Margin { get; }

    /// <summary>What the client may take at most: <see cref="Budget"/> − <see cref="Margin"/>.</summary>
    public TimeSpan Limit { get; }

    /// <summary>The per-attempt timeout (<c>ClientConfig.Timeout</c>, or the HttpClient default of 100 s when unset).</summary>
    public TimeSpan AttemptTimeout { get; }

    /// <summary>Whether <see cref="AttemptTimeout"/> is the HttpClient default because the config sets none.</summary>
    public bool TimeoutIsDefault { get; }

    /// <summary>Every attempt: <c>MaxErrorRetry</c> + 1.</summary>
    public int Attempts { get; }

    /// <summary>The worst-case backoff before each retry.</summary>
    public IReadOnlyList<TimeSpan> Backoffs { get; }

    /// <summary>The longest the SDK call can take: every attempt plus every backoff.</summary>
    public TimeSpan WorstCase { get; }

    /// <summary>Whether the worst case fits: <see cref="WorstCase"/> ≤ <see cref="Limit"/>.</summary>
    public bool Fits => WorstCase <= Limit;

    /// <summary>
    /// What <see cref="AwsClientBudget.Align"/> changed in the config, each with its old and new value, e.g.
    /// <c>"Timeout 240 s → 56 s"</c>; empty for <c>AwsClientBudget.Check</c>
    /// and when nothing had to change.
    /// </summary>
    public IReadOnlyList<string> Changes { get; private init; } = [];

    internal AwsBudgetReport WithChanges(IReadOnlyList<string> changes) =>
        new(Layer, Budget, Margin, AttemptTimeout, TimeoutIsDefault, Attempts, Backoffs) { Changes = changes };

    /// <summary>
    /// The arithmetic, e.g. <c>"3 attempts × 240 s + backoff 1 s + 2 s = 723 s does not fit in wait 180 s − margin 9 s = 171 s"</c>,
    /// after what <see cref="AwsClientBudget.Align"/> changed, if anything: <c>"Changed Timeout 240 s → 56 s. 3 attempts × 56 s …"</c>.
    /// </summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        if (Changes.Count > 0)
        {
            text.Append("Changed ").Append(string.Join(", ", Changes)).Append(". ");
        }

        text.Append(Attempts).Append(Attempts == 1 ? " attempt × " : " attempts × ").Append(DurationText.Format(AttemptTimeout));
        if (TimeoutIsDefault)
        {
            text.Append(" (no Timeout set: the HttpClient default)");
        }

        if (Backoffs.Count > 0)
        {
            text.Append(" + backoff ").Append(string.Join(" + ", Backoffs.Select(DurationText.Format)));
        }

        text.Append(" = ").Append(DurationText.Format(WorstCase))
            .Append(Fits ? " fits in " : " does not fit in ")
            .Append(Layer).Append(' ').Append(DurationText.Format(Budget))
            .Append(" − margin ").Append(DurationText.Format(Margin))
            .Append(" = ").Append(DurationText.Format(Limit)).Append('.');
        return text.ToString();
    }
}
