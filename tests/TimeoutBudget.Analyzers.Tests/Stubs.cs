namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Minimal declarations of the third-party types the rules understand, with their real namespaces and member shapes, so
/// tests need no package downloads; the analyzer matches them by fully-qualified metadata name exactly as it would the real ones.
/// </summary>
public static class Stubs
{
    public const string Source = """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        namespace Amazon.Runtime
        {
            public abstract class ClientConfig
            {
                public TimeSpan? Timeout { get; set; }
                public int MaxErrorRetry { get; set; } = 2;
            }

            public abstract class AmazonServiceClient
            {
                protected AmazonServiceClient(ClientConfig config) { }
            }
        }

        namespace Amazon.SQS
        {
            public class AmazonSQSConfig : Amazon.Runtime.ClientConfig { }

            public class AmazonSQSClient : Amazon.Runtime.AmazonServiceClient
            {
                public AmazonSQSClient(AmazonSQSConfig config) : base(config) { }
                public string ReceiveMessage(string queueUrl) => queueUrl;
                public Task<string> ReceiveMessageAsync(string queueUrl, CancellationToken cancellationToken = default) => Task.FromResult(queueUrl);
            }
        }

        namespace Polly
        {
            public enum DelayBackoffType { Constant, Linear, Exponential }

            public abstract class ResiliencePipelineBuilderBase { }

            public sealed class ResiliencePipeline
            {
                public ValueTask ExecuteAsync(Func<CancellationToken, ValueTask> callback, CancellationToken cancellationToken = default) => default;
            }

            public class ResiliencePipelineBuilder : ResiliencePipelineBuilderBase
            {
                public ResiliencePipeline Build() => new ResiliencePipeline();
            }

            public static class TimeoutResiliencePipelineBuilderExtensions
            {
                public static TBuilder AddTimeout<TBuilder>(this TBuilder builder, TimeSpan timeout) where TBuilder : ResiliencePipelineBuilderBase => builder;
                public static TBuilder AddTimeout<TBuilder>(this TBuilder builder, Polly.Timeout.TimeoutStrategyOptions options) where TBuilder : ResiliencePipelineBuilderBase => builder;
            }

            public static class RetryResiliencePipelineBuilderExtensions
            {
                public static ResiliencePipelineBuilder AddRetry(this ResiliencePipelineBuilder builder, Polly.Retry.RetryStrategyOptions options) => builder;
            }
        }

        namespace Polly.Timeout
        {
            public class TimeoutStrategyOptions
            {
                public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
            }
        }

        namespace Polly.Retry
        {
            public class RetryStrategyOptions<TResult>
            {
                public int MaxRetryAttempts { get; set; } = 3;
                public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(2);
                public TimeSpan? MaxDelay { get; set; }
                public Polly.DelayBackoffType BackoffType { get; set; }
                public bool UseJitter { get; set; }
            }

            public class RetryStrategyOptions : RetryStrategyOptions<object> { }
        }

        namespace Microsoft.Extensions.Http.Resilience
        {
            public class HttpTimeoutStrategyOptions : Polly.Timeout.TimeoutStrategyOptions { }

            public class HttpRetryStrategyOptions : Polly.Retry.RetryStrategyOptions<HttpResponseMessage> { }

            public class HttpStandardResilienceOptions
            {
                public HttpTimeoutStrategyOptions TotalRequestTimeout { get; set; } = new HttpTimeoutStrategyOptions();
                public HttpTimeoutStrategyOptions AttemptTimeout { get; set; } = new HttpTimeoutStrategyOptions();
                public HttpRetryStrategyOptions Retry { get; set; } = new HttpRetryStrategyOptions();
            }
        }

        namespace Microsoft.Extensions.DependencyInjection
        {
            public interface IServiceCollection { }

            public interface IHttpClientBuilder { }

            public static class HttpClientBuilderExtensions
            {
                public static IHttpClientBuilder AddHttpClient(this IServiceCollection services, string name, Action<HttpClient> configureClient) => null!;
                public static IHttpClientBuilder ConfigureHttpClient(this IHttpClientBuilder builder, Action<HttpClient> configureClient) => builder;
                public static IHttpClientBuilder AddStandardResilienceHandler(this IHttpClientBuilder builder, Action<Microsoft.Extensions.Http.Resilience.HttpStandardResilienceOptions> configure) => builder;
            }
        }

        namespace TimeoutBudget
        {
            public sealed class Budget : IDisposable
            {
                public static Budget Start(string layer, TimeSpan timeout) => new Budget();
                public Budget Child(string layer, TimeSpan timeout) => new Budget();
                public CancellationToken Token => default;
                public void Dispose() { }
            }
        }
        """;
}
