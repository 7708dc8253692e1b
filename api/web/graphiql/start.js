// Starts GraphiQL against this server: queries over POST /graphql, subscriptions over /ws
// (graphql-transport-ws). Every asset comes from this server; nothing is fetched elsewhere.
(function () {
  var loc = window.location;
  var wsUrl = (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + '/ws';
  var fetcher = GraphiQL.createFetcher({
    url: loc.origin + '/graphql',
    wsClient: graphqlWs.createClient({ url: wsUrl, lazy: true }),
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher }));
})();
