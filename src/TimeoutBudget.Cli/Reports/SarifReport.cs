using System.Reflection;
using System.Text.Json;

namespace TimeoutBudget.Cli.Reports;

/// <summary>SARIF 2.1.0, so a CI system can annotate the plan file; the rule is TB0007, the same as the analyzer's.</summary>
internal static class SarifReport
{
    public const string RuleId = "TB0007";
    public const string HelpUri = "https://github.com/timeoutbudget/timeoutbudget/blob/main/docs/rules/TB0007.md";

    public static void Write(IReadOnlyList<PlanFile> files, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
            json.WriteString("version", "2.1.0");
            json.WriteStartArray("runs");
            json.WriteStartObject();
            WriteTool(json);
            json.WriteStartArray("results");
            foreach (var file in files)
            {
                if (file.Plan is null)
                {
                    WriteResult(json, file.Path, file.ParseError?.Message ?? file.IoError ?? "The plan cannot be read.", file.ParseError?.Line ?? 0, file.ParseError?.Column ?? 0);
                }

                foreach (var violation in file.Violations)
                {
                    WriteResult(json, file.Path, $"{violation.Path}: {violation.Message}", violation.Line, violation.Column);
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteTool(Utf8JsonWriter json)
    {
        json.WriteStartObject("tool");
        json.WriteStartObject("driver");
        json.WriteString("name", "timeout-budget");
        json.WriteString("version", typeof(SarifReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");
        json.WriteString("informationUri", "https://github.com/timeoutbudget/timeoutbudget");
        json.WriteStartArray("rules");
        json.WriteStartObject();
        json.WriteString("id", RuleId);
        json.WriteString("name", "InvalidTimeoutPlan");
        json.WriteStartObject("shortDescription");
        json.WriteString("text", "Invalid timeout plan: an inner timeout does not expire before the outer one that contains it");
        json.WriteEndObject();
        json.WriteString("helpUri", HelpUri);
        json.WriteStartObject("defaultConfiguration");
        json.WriteString("level", "error");
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteResult(Utf8JsonWriter json, string path, string message, int line, int column)
    {
        json.WriteStartObject();
        json.WriteString("ruleId", RuleId);
        json.WriteString("level", "error");
        json.WriteStartObject("message");
        json.WriteString("text", message);
        json.WriteEndObject();
        json.WriteStartArray("locations");
        json.WriteStartObject();
        json.WriteStartObject("physicalLocation");
        json.WriteStartObject("artifactLocation");
        json.WriteString("uri", path.Replace('\\', '/'));
        json.WriteEndObject();
        if (line > 0)
        {
            json.WriteStartObject("region");
            json.WriteNumber("startLine", line);
            json.WriteNumber("startColumn", Math.Max(1, column));
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
