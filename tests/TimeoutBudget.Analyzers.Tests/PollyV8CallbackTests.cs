namespace TimeoutBudget.Analyzers.Tests;

/// <summary>A Polly v8 callback's token is cancelled by the pipeline's innermost timeout, so calls made with it sit inside that timeout.</summary>
public class PollyV8CallbackTests
{
    [Fact]
    public Task Client_timeout_longer_than_the_attempt_timeout_that_cancels_the_callback_token() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(TestReferences.Net80WithPackages, """
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using Polly;
        using Polly.Retry;

        public sealed class ChunkReader
        {
            private readonly HttpClient _httpClient;
            private readonly ResiliencePipeline _pipeline;

            public ChunkReader(HttpClient httpClient)
            {
                _httpClient = httpClient;
                _httpClient.Timeout = TimeSpan.FromSeconds(60);
                _pipeline = new ResiliencePipelineBuilder()
                    .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.FromMilliseconds(100) })
                    .AddTimeout(TimeSpan.FromSeconds(30))
                    .Build();
            }

            public async Task<byte[]> ReadAsync(Uri chunk) =>
                await _pipeline.ExecuteAsync(async ct =>
                {
                    using var response = await {|TB0001:_httpClient.GetAsync(chunk, ct)|};
                    return await response.Content.ReadAsByteArrayAsync(ct);
                });
        }
        """);
}
