namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// A gRPC call's deadline is its own timeout (the server is told the same one): it must end before the token or the wait
/// around the call. The client below has the shape protoc generates (a <c>ClientBase&lt;T&gt;</c> with a deadline parameter).
/// </summary>
public class GrpcDeadlineTests
{
    private const string GeneratedClient = """
        using System;
        using System.Threading;
        using Grpc.Core;

        public sealed class GreeterClient : ClientBase<GreeterClient>
        {
            public GreeterClient(CallInvoker invoker) : base(invoker) { }

            private GreeterClient(ClientBaseConfiguration configuration) : base(configuration) { }

            protected override GreeterClient NewInstance(ClientBaseConfiguration configuration) => new(configuration);

            public AsyncUnaryCall<string> SayHelloAsync(string request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
                SayHelloAsync(request, new CallOptions(headers, deadline, cancellationToken));

            public AsyncUnaryCall<string> SayHelloAsync(string request, CallOptions options) => throw new NotSupportedException(request);
        }
        """;

    [Fact]
    public Task A_deadline_not_shorter_than_the_token_or_wait_around_the_call() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Grpc.Core;

        public sealed class Greetings(GreeterClient client)
        {
            public async Task<string> WithTokenAsync()
            {
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                return await {|TB0001:client.SayHelloAsync("a", deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: request.Token)|};
            }

            public Task<string> InsideAWaitAsync() =>
                {|TB0001:client.SayHelloAsync("b", new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30))).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10))|};

            public async Task<string> FitsAsync()
            {
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                return await client.SayHelloAsync("c", deadline: DateTime.UtcNow.AddMilliseconds(2500), cancellationToken: request.Token);
            }
        }
        """,
        GeneratedClient);
}
