using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>A timeout value the evaluator could prove, with the expression that wrote it.</summary>
internal readonly struct Duration
{
    public Duration(TimeSpan value, IOperation source, bool isMilliseconds, ConfiguredValue? configured = null)
    {
        Value = value;
        Source = source;
        IsMilliseconds = isMilliseconds;
        Configured = configured;
    }

    /// <summary>The configuration file value this duration was read from, when it was.</summary>
    public ConfiguredValue? Configured { get; }

    public TimeSpan Value { get; }

    /// <summary>The expression that produced the value: where the code fix rewrites it and where messages say it was set.</summary>
    public IOperation Source { get; }

    /// <summary>Whether the value was written as an integer count of milliseconds rather than a <see cref="TimeSpan"/>.</summary>
    public bool IsMilliseconds { get; }

    /// <summary>Infinite timeouts are written as -1 ms (<c>Timeout.InfiniteTimeSpan</c>, <c>Timeout.Infinite</c>).</summary>
    public bool IsInfinite => Value == System.Threading.Timeout.InfiniteTimeSpan;

    public bool IsFinite => Value >= TimeSpan.Zero;

    public string Text => IsInfinite ? "infinite" : DurationText.Format(Value);

    public string Where => Configured is { } configured ? $"{configured.Describe()}, read at {Describe(Source)}" : Describe(Source);

    public static string Describe(IOperation operation)
    {
        var span = operation.Syntax.GetLocation().GetLineSpan();
        var file = FileName(span.Path);
        var line = span.StartLinePosition.Line + 1;
        return string.IsNullOrEmpty(file) ? $"line {line}" : $"{file}:{line}";
    }

    /// <summary>The last segment of a path; unlike Path.GetFileName on .NET Framework hosts, never throws on unusual characters.</summary>
    public static string FileName(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return string.Empty;
        }

        var separator = Math.Max(path!.LastIndexOf('/'), path.LastIndexOf('\\'));
        return path.Substring(separator + 1);
    }
}
