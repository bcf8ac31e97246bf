namespace TimeoutBudget.Cli.Reports;

internal static class TextReport
{
    private const string Red = "\u001b[31m";
    private const string Green = "\u001b[32m";
    private const string Dim = "\u001b[2m";
    private const string Reset = "\u001b[0m";

    public static void Write(IReadOnlyList<PlanFile> files, TextWriter output, bool colour)
    {
        string Paint(string code, string text) => colour ? code + text + Reset : text;

        foreach (var file in files)
        {
            if (file.Plan is null)
            {
                output.WriteLine(Paint(Red, $"✗ {file.Path}: cannot be read"));
                output.WriteLine($"    {file.ParseError?.Message ?? file.IoError}");
                continue;
            }

            var layers = file.Plan.Nodes.Count();
            if (file.Violations.Count == 0)
            {
                output.WriteLine(Paint(Green, $"✓ {file.Path}: {layers} layer(s), every inner timeout expires before its outer one"));
                continue;
            }

            output.WriteLine(Paint(Red, $"✗ {file.Path}: {file.Violations.Count} violation(s) in {layers} layer(s)"));
            foreach (var violation in file.Violations)
            {
                var where = violation.Line > 0 ? $" (line {violation.Line}, column {violation.Column})" : string.Empty;
                output.WriteLine($"  - {violation.Path}{Paint(Dim, where)}");
                output.WriteLine($"    {violation.Message}");
            }
        }

        var bad = files.Count(f => f.Plan is null || f.Violations.Count > 0);
        output.WriteLine(bad == 0 ? $"{files.Count} plan(s) aligned." : $"{bad} of {files.Count} plan(s) need attention.");
    }
}
