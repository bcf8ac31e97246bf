using System.Text;

namespace TimeoutBudget.AnalyzerCorpus;

/// <summary>
/// Writes a deterministic corpus of service code of the kind the analyzers meet in real builds: typed HTTP clients,
/// Polly pipelines, AWS SDK queue consumers, DI registration with the standard resilience handler, budgets, token
/// plumbing — and the ordinary business code around them, which is most of any real service. Some calls are
/// deliberately misaligned or forget their token (as real code does) so every rule and CA2016 have work to do.
/// </summary>
public static class CorpusGenerator
{
    /// <summary>Generates files until at least <paramref name="targetLines"/> lines have been written.</summary>
    /// <param name="targetLines">How many lines of C# to produce, at least.</param>
    /// <param name="seed">The same seed always gives the same corpus.</param>
    /// <returns>File names (relative) and their text.</returns>
    public static IEnumerable<(string Name, string Text)> Generate(int targetLines, int seed = 2026)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetLines);
        var random = new Random(seed);
        var lines = 0;
        for (var index = 0; lines < targetLines; index++)
        {
            var text = index % 10 == 9 ? Registration(index, random) : Service(index, random);
            lines += CountLines(text);
            yield return ($"Services/Service{index:D4}.cs", text);
        }
    }

    /// <summary>Lines in <paramref name="text"/>, counted as an editor would.</summary>
    public static int CountLines(string text)
    {
        var count = 1;
        foreach (var c in text)
        {
            if (c == '\n')
            {
                count++;
            }
        }

        return count;
    }

    private static string Service(int index, Random random)
    {
        var w = new Writer();
        w.Line("using System.Globalization;");
        w.Line("using System.Text;");
        w.Line("using Amazon.SQS;");
        w.Line("using Amazon.SQS.Model;");
        w.Line("using Polly;");
        w.Line("using Polly.Retry;");
        w.Line("using TimeoutBudget;");
        w.Line();
        w.Line($"namespace Corpus.Services.S{index:D4};");
        w.Line();
        w.Line($"public sealed record Order{index}(string Id, string Customer, decimal Amount, DateTimeOffset PlacedAt, IReadOnlyList<string> Items);");
        w.Line();
        w.Line($"public sealed record Quote{index}(string Sku, decimal Price, int Stock);");
        w.Line();
        w.Line("/// <summary>Generated service: an outbound HTTP dependency, a queue, a resilience pipeline and the business code around them.</summary>");
        w.Line($"public sealed class OrderService{index}");
        w.Open();
        w.Line("private readonly HttpClient _http;");
        w.Line("private readonly IAmazonSQS _queue;");
        w.Line("private readonly ResiliencePipeline _pipeline;");
        w.Line("private readonly Dictionary<string, Quote" + index + "> _lastGood = new(StringComparer.Ordinal);");
        w.Line($"private static readonly AmazonSQSConfig QueueConfig = new() {{ Timeout = TimeSpan.FromSeconds({Pick(random, 5, 20, 30, 240, 540)}), MaxErrorRetry = {random.Next(0, 4)} }};");
        w.Line();
        w.Line($"public OrderService{index}(HttpClient http, IAmazonSQS queue)");
        w.Open();
        w.Line("_http = http;");
        w.Line("_queue = queue;");
        w.Line("_pipeline = new ResiliencePipelineBuilder()");
        w.Line($"    .AddRetry(new RetryStrategyOptions {{ MaxRetryAttempts = {random.Next(1, 5)}, Delay = TimeSpan.FromMilliseconds({Pick(random, 100, 200, 500, 1000)}) }})");
        w.Line($"    .AddTimeout(TimeSpan.FromSeconds({Pick(random, 1, 2, 5, 10)}))");
        w.Line("    .Build();");
        w.Close();

        var methods = 9 + random.Next(0, 5);
        for (var m = 0; m < methods; m++)
        {
            w.Line();
            switch (random.Next(0, 12))
            {
                case 0: HttpWithToken(w, index, m, random); break;
                case 1: HttpForgetsToken(w, index, m); break;
                case 2: LinkedTimeouts(w, index, m, random); break;
                case 3: RaceAgainstDelay(w, index, m, random); break;
                case 4: PollyCall(w, index, m); break;
                case 5: QueueConsumer(w, index, m, random); break;
                case 6: BudgetedCall(w, index, m, random); break;
                case 7: SdkInsideWait(w, index, m, random); break;
                case 8: FetchWithoutDeadline(w, m); break;
                default: BusinessLogic(w, index, m, random); break;
            }
        }

        w.Close();
        return w.ToString();
    }

    private static void HttpWithToken(Writer w, int index, int m, Random random)
    {
        w.Line($"public async Task<Quote{index}?> GetQuote{m}Async(string sku, CancellationToken cancellationToken)");
        w.Open();
        w.Line($"using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);");
        w.Line($"timeout.CancelAfter(TimeSpan.FromSeconds({Pick(random, 1, 2, 3, 5)}));");
        w.Line("using var response = await _http.GetAsync($\"quotes/{Uri.EscapeDataString(sku)}\", timeout.Token);");
        w.Line("if (!response.IsSuccessStatusCode)");
        w.Open();
        w.Line("return _lastGood.TryGetValue(sku, out var cached) ? cached : null;");
        w.Close();
        w.Line();
        w.Line("var body = await response.Content.ReadAsStringAsync(timeout.Token);");
        w.Line("var parts = body.Split(';');");
        w.Line("if (parts.Length < 2 || !decimal.TryParse(parts[0], NumberStyles.Number, CultureInfo.InvariantCulture, out var price))");
        w.Open();
        w.Line("return null;");
        w.Close();
        w.Line();
        w.Line($"var quote = new Quote{index}(sku, price, int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var stock) ? stock : 0);");
        w.Line("_lastGood[sku] = quote;");
        w.Line("return quote;");
        w.Close();
    }

    private static void HttpForgetsToken(Writer w, int index, int m)
    {
        w.Line($"public async Task<int> CountOpenOrders{m}Async(string customer, CancellationToken cancellationToken)");
        w.Open();
        w.Line("cancellationToken.ThrowIfCancellationRequested();");
        w.Line("// The token is not passed on: exactly what CA2016 and TB0005 exist to catch.");
        w.Line("var text = await _http.GetStringAsync($\"customers/{customer}/orders?state=open\");");
        w.Line("var count = 0;");
        w.Line("foreach (var line in text.Split('\\n', StringSplitOptions.RemoveEmptyEntries))");
        w.Open();
        w.Line("if (line.StartsWith(\"open:\", StringComparison.Ordinal))");
        w.Open();
        w.Line("count++;");
        w.Close();
        w.Close();
        w.Line();
        w.Line("return count;");
        w.Close();
    }

    private static void LinkedTimeouts(Writer w, int index, int m, Random random)
    {
        var outer = Pick(random, 2, 5, 10, 30);
        var inner = random.Next(0, 3) == 0 ? outer + Pick(random, 1, 5) : Math.Max(1, outer / 2);
        w.Line($"public async Task<string> FetchCatalog{m}Async(CancellationToken cancellationToken)");
        w.Open();
        w.Line($"using var request = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);");
        w.Line($"request.CancelAfter(TimeSpan.FromSeconds({outer}));");
        w.Line($"using var call = CancellationTokenSource.CreateLinkedTokenSource(request.Token);");
        w.Line($"call.CancelAfter(TimeSpan.FromSeconds({inner}));");
        w.Line("var builder = new StringBuilder();");
        w.Line("for (var page = 0; page < 3; page++)");
        w.Open();
        w.Line("var chunk = await _http.GetStringAsync($\"catalog?page={page}\", call.Token);");
        w.Line("builder.Append(chunk.Trim());");
        w.Close();
        w.Line();
        w.Line("return builder.ToString();");
        w.Close();
    }

    private static void RaceAgainstDelay(Writer w, int index, int m, Random random)
    {
        w.Line($"public async Task<string?> FirstOrNothing{m}Async(string url, CancellationToken cancellationToken)");
        w.Open();
        w.Line("var work = _http.GetStringAsync(url, cancellationToken);");
        w.Line($"var winner = await Task.WhenAny(work, Task.Delay(TimeSpan.FromSeconds({Pick(random, 1, 3, 10)}), cancellationToken));");
        w.Line("return winner == work ? await work : null;");
        w.Close();
    }

    private static void PollyCall(Writer w, int index, int m)
    {
        w.Line($"public async Task<string> Reserve{m}Async(Order{index} order, CancellationToken cancellationToken)");
        w.Open();
        w.Line("var payload = string.Join(',', order.Items.Select(item => item.ToUpperInvariant()));");
        w.Line("return await _pipeline.ExecuteAsync(async token =>");
        w.Open();
        w.Line("using var content = new StringContent(payload, Encoding.UTF8, \"text/plain\");");
        w.Line("using var response = await _http.PostAsync($\"reservations/{order.Id}\", content, token);");
        w.Line("response.EnsureSuccessStatusCode();");
        w.Line("return await response.Content.ReadAsStringAsync(token);");
        w.Indent--;
        w.Line("}, cancellationToken);");
        w.Close();
    }

    private static void QueueConsumer(Writer w, int index, int m, Random random)
    {
        w.Line($"public async Task<int> Drain{m}Async(string queueUrl, CancellationToken cancellationToken)");
        w.Open();
        w.Line("var handled = 0;");
        w.Line($"for (var round = 0; round < {random.Next(2, 6)}; round++)");
        w.Open();
        w.Line("var batch = await _queue.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, MaxNumberOfMessages = 10, WaitTimeSeconds = 5 }, cancellationToken);");
        w.Line("if (batch.Messages is null || batch.Messages.Count == 0)");
        w.Open();
        w.Line("break;");
        w.Close();
        w.Line();
        w.Line("foreach (var message in batch.Messages)");
        w.Open();
        w.Line("if (string.IsNullOrWhiteSpace(message.Body))");
        w.Open();
        w.Line("continue;");
        w.Close();
        w.Line();
        w.Line("await _queue.DeleteMessageAsync(queueUrl, message.ReceiptHandle, cancellationToken);");
        w.Line("handled++;");
        w.Close();
        w.Close();
        w.Line();
        w.Line("return handled;");
        w.Close();
    }

    private static void BudgetedCall(Writer w, int index, int m, Random random)
    {
        var outer = Pick(random, 5, 20, 40);
        var inner = random.Next(0, 4) == 0 ? outer * 2 : Math.Max(1, outer / 4);
        w.Line($"public async Task<string> Enrich{m}Async(string id)");
        w.Open();
        w.Line($"using var request = Budget.Start(\"request\", TimeSpan.FromSeconds({outer}));");
        w.Line($"using var call = request.Child(\"enrichment\", TimeSpan.FromSeconds({inner}));");
        w.Line("var result = await call.TryRunAsync(token => _http.GetStringAsync($\"enrich/{id}\", token));");
        w.Line("return result.Outcome switch");
        w.Open();
        w.Line("BudgetOutcome.Completed => result.Value ?? string.Empty,");
        w.Line("BudgetOutcome.Expired => $\"stale:{result.ExpiredLayer}\",");
        w.Line("_ => throw result.Exception ?? new InvalidOperationException(result.ToString()),");
        w.Indent--;
        w.Line("};");
        w.Close();
    }

    private static void SdkInsideWait(Writer w, int index, int m, Random random)
    {
        var wait = Pick(random, 60, 180, 600);
        w.Line($"public async Task<int> Poll{m}Async(string queueUrl)");
        w.Open();
        w.Line("// Seed 000's shape: the SDK call keeps going after the wait around it gives up.");
        w.Line("var client = new AmazonSQSClient(QueueConfig);");
        w.Line($"var response = await Task.Run(() => client.ReceiveMessageAsync(queueUrl)).WaitAsync(TimeSpan.FromSeconds({wait}));");
        w.Line("return response.Messages?.Count ?? 0;");
        w.Close();
    }

    private static void FetchWithoutDeadline(Writer w, int m)
    {
        w.Line($"public static async Task<int> ImportFeed{m}Async(Uri feed)");
        w.Open();
        w.Line("// Seed 003's shape: no socket timeout and no token, so a server that never answers holds this forever.");
        w.Line("using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };");
        w.Line("var text = await http.GetStringAsync(feed);");
        w.Line("return text.Split('\\n').Count(line => line.Length > 0);");
        w.Close();
    }

    private static void BusinessLogic(Writer w, int index, int m, Random random)
    {
        var threshold = random.Next(10, 1000);
        w.Line($"public static IReadOnlyList<string> Summarize{m}(IEnumerable<Order{index}> orders, DateTimeOffset since)");
        w.Open();
        w.Line("var byCustomer = orders");
        w.Line("    .Where(order => order.PlacedAt >= since)");
        w.Line("    .GroupBy(order => order.Customer, StringComparer.OrdinalIgnoreCase)");
        w.Line("    .Select(group => (Customer: group.Key, Total: group.Sum(order => order.Amount), Count: group.Count()))");
        w.Line("    .OrderByDescending(entry => entry.Total)");
        w.Line("    .ToList();");
        w.Line();
        w.Line("var lines = new List<string>(byCustomer.Count);");
        w.Line("foreach (var (customer, total, count) in byCustomer)");
        w.Open();
        w.Line("var tier = total switch");
        w.Open();
        w.Line($"> {threshold * 10} => \"gold\",");
        w.Line($"> {threshold} => \"silver\",");
        w.Line("_ => \"bronze\",");
        w.Indent--;
        w.Line("};");
        w.Line("lines.Add(string.Create(CultureInfo.InvariantCulture, $\"{customer}: {count} orders, {total:F2} ({tier})\"));");
        w.Close();
        w.Line();
        w.Line("return lines;");
        w.Close();
        w.Line();
        w.Line($"public static bool IsValid{m}(Order{index} order)");
        w.Open();
        w.Line("if (string.IsNullOrEmpty(order.Id) || order.Amount <= 0)");
        w.Open();
        w.Line("return false;");
        w.Close();
        w.Line();
        w.Line($"return order.Items.Count is > 0 and < {random.Next(20, 200)} && order.Items.All(item => item.Length <= 64);");
        w.Close();
    }

    private static string Registration(int index, Random random)
    {
        var w = new Writer();
        w.Line("using Microsoft.Extensions.DependencyInjection;");
        w.Line();
        w.Line($"namespace Corpus.Services.S{index:D4};");
        w.Line();
        w.Line("/// <summary>Generated registration: named clients with the standard resilience handler.</summary>");
        w.Line($"public static class Registration{index}");
        w.Open();
        w.Line("public static IServiceCollection AddClients(this IServiceCollection services)");
        w.Open();
        var clients = 6 + random.Next(0, 6);
        for (var c = 0; c < clients; c++)
        {
            var attempt = Pick(random, 1, 2, 5, 10);
            var total = random.Next(0, 4) == 0 ? attempt : attempt * Pick(random, 3, 4, 6);
            w.Line($"services.AddHttpClient(\"dependency-{index}-{c}\", client =>");
            w.Open();
            w.Line($"client.BaseAddress = new Uri(\"http://dependency-{c}.internal/\");");
            w.Line($"client.Timeout = TimeSpan.FromSeconds({Pick(random, 30, 60, 100)});");
            w.Indent--;
            w.Line("})");
            w.Line(".AddStandardResilienceHandler(options =>");
            w.Open();
            w.Line($"options.AttemptTimeout.Timeout = TimeSpan.FromSeconds({attempt});");
            w.Line($"options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds({total});");
            w.Line($"options.Retry.MaxRetryAttempts = {random.Next(1, 5)};");
            w.Indent--;
            w.Line("});");
            w.Line();
        }

        w.Line("return services;");
        w.Close();
        w.Close();
        return w.ToString();
    }

    private static int Pick(Random random, params int[] choices) => choices[random.Next(choices.Length)];

    private sealed class Writer
    {
        private readonly StringBuilder _text = new();

        public int Indent { get; set; }

        public void Line(string line = "")
        {
            if (line.Length > 0)
            {
                _text.Append(' ', Indent * 4);
            }

            _text.Append(line).Append('\n');
        }

        public void Open()
        {
            Line("{");
            Indent++;
        }

        public void Close()
        {
            Indent--;
            Line("}");
        }

        public override string ToString() => _text.ToString();
    }
}
