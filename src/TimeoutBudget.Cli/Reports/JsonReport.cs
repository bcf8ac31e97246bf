using System.Text.Json;

namespace TimeoutBudget.Cli.Reports;

internal static class JsonReport
{
    public static void Write(IReadOnlyList<PlanFile> files, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteBoolean("aligned", files.All(f => f.Plan is not null && f.Violations.Count == 0));
            json.WriteStartArray("plans");
            foreach (var file in files)
            {
                json.WriteStartObject();
                json.WriteString("file", file.Path);
                json.WriteBoolean("readable", file.Plan is not null);
                if (file.Plan is not null)
                {
                    json.WriteString("root", file.Plan.Root.Layer);
                    json.WriteNumber("layers", file.Plan.Nodes.Count());
                }
                else
                {
                    json.WriteString("error", file.ParseError?.Message ?? file.IoError);
                    if (file.ParseError is { Line: > 0 } parseError)
                    {
                        json.WriteNumber("line", parseError.Line);
                        json.WriteNumber("column", parseError.Column);
                    }
                }

                json.WriteStartArray("violations");
                foreach (var violation in file.Violations)
                {
                    json.WriteStartObject();
                    json.WriteString("path", violation.Path);
                    json.WriteString("message", violation.Message);
                    if (violation.Line > 0)
                    {
                        json.WriteNumber("line", violation.Line);
                        json.WriteNumber("column", violation.Column);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
