namespace TimeoutBudget.Samples;

/// <summary>One seed incident replayed before and after.</summary>
internal interface ISample
{
    string Id { get; }

    string Title { get; }

    Task<IReadOnlyList<SampleRow>> RunAsync();
}

/// <summary>One measured figure, before and after; <see cref="AfterIsBetter"/> is judged from the measurements, not assumed.</summary>
internal sealed record SampleRow(string Sample, string Measure, string Before, string After, bool AfterIsBetter);

internal static class SampleTable
{
    public static void Print(IReadOnlyList<SampleRow> rows)
    {
        var header = new[] { "Seed", "Measure", "Before", "After", "Better?" };
        var cells = rows.Select(r => new[] { r.Sample, r.Measure, r.Before, r.After, r.AfterIsBetter ? "yes" : "NO" }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        string Line(string[] values) => "| " + string.Join(" | ", values.Select((v, i) => v.PadRight(widths[i]))) + " |";
        Console.WriteLine(Line(header));
        Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var row in cells)
        {
            Console.WriteLine(Line(row));
        }
    }

    public static string Ms(TimeSpan value) => $"{value.TotalMilliseconds:0} ms";
}
