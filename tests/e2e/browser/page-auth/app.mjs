// The signed-in page's code: Amplify JS v6 as an app would use it, bundled by esbuild
// (browser-auth.e2e.mjs). Amplify's Auth signs in against the pool in config.json (moto's
// Cognito, reached through userPoolEndpoint; moto serves CORS headers), USER_PASSWORD_AUTH;
// the API calls use authMode 'userPool': the signed-in user's access token.
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { fetchAuthSession, signIn, signOut } from 'aws-amplify/auth';

const FIELDS = 'id firstName lastName age owner version';
const $ = (id) => document.getElementById(id);

function showError(error) {
  const errors = error?.errors ?? [error];
  $('error').textContent = errors.map((e) => `${e.errorType ?? e.name ?? 'Error'}: ${e.message}`).join('\n');
}

function show(trainer) {
  for (const field of ['id', 'firstName', 'age', 'owner', 'version']) {
    $(`trainer-${field}`).textContent = String(trainer[field]);
  }
}

const config = await (await fetch('config.json')).json();
Amplify.configure({
  Auth: {
    Cognito: {
      userPoolId: config.userPoolId,
      userPoolClientId: config.userPoolClientId,
      userPoolEndpoint: config.userPoolEndpoint,
    },
  },
  API: { GraphQL: { endpoint: config.endpoint, region: 'us-east-1', defaultAuthMode: 'userPool' } },
});
const client = generateClient({ authMode: 'userPool' });

/** Runs `action` with the error line cleared, showing what it throws. */
function handle(form, action) {
  $(form).addEventListener('submit', async (event) => {
    event.preventDefault();
    $('error').textContent = '';
    try {
      await action(new FormData(event.target));
    } catch (error) {
      showError(error);
    }
  });
}

handle('sign-in', async (form) => {
  await signOut();
  const result = await signIn({
    username: form.get('username'),
    password: form.get('password'),
    options: { authFlowType: 'USER_PASSWORD_AUTH' },
  });
  if (!result.isSignedIn) throw new Error(`not signed in: ${result.nextStep.signInStep}`);
  const { tokens } = await fetchAuthSession();
  $('user').textContent = tokens.accessToken.payload.username;
});

handle('create', async (form) => {
  const { data } = await client.graphql({
    query: `mutation ($firstName: String!, $age: Int!) {
      createTrainer(firstName: $firstName, lastName: "Browser", age: $age) { ${FIELDS} }
    }`,
    variables: { firstName: form.get('firstName'), age: Number(form.get('age')) },
  });
  show(data.createTrainer);
});

handle('update', async (form) => {
  const { data } = await client.graphql({
    query: `mutation ($id: ID!, $age: Int) { updateTrainers(id: $id, age: $age) { ${FIELDS} } }`,
    variables: { id: form.get('id'), age: Number(form.get('age')) },
  });
  show(data.updateTrainers);
});
