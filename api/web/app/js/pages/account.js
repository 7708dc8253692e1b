// Sign in and register. Both store the returned token (AuthPayload) and go on to `?next=`
// (default: my jobs). Errors from the API are shown next to the field they name.
import { h, render, title } from '../dom.js';
import { gql, setSession, GqlError } from '../gql.js';

const USER = 'user { id username email role }';
const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { token expiresAt ${USER} } }`;
const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { token expiresAt ${USER} } }`;

export default async function account(main, mode) {
  const isRegister = mode === 'register';
  title(isRegister ? 'Register' : 'Sign in');
  const field = (name, label, attrs) => h('label', { for: `f-${name}` }, label,
    h('input', { id: `f-${name}`, name, required: true, 'aria-describedby': `err-${name}`, ...attrs }),
    h('span', { class: 'field-error', id: `err-${name}`, dataset: { errorFor: name } }));
  const formError = h('p', { class: 'error', role: 'alert', id: 'form-error' });
  const form = h('form', { class: 'stack', id: mode, 'aria-label': isRegister ? 'Register' : 'Sign in' },
    field('username', 'User name', { autocomplete: 'username' }),
    isRegister ? field('email', 'E-mail', { type: 'email', autocomplete: 'email' }) : null,
    field('password', isRegister ? 'Password (10–256 bytes)' : 'Password', { type: 'password', autocomplete: isRegister ? 'new-password' : 'current-password', minlength: isRegister ? 10 : undefined }),
    formError,
    h('div', {}, h('button', { type: 'submit' }, isRegister ? 'Register' : 'Sign in')));
  render(main, h('h1', {}, isRegister ? 'Register' : 'Sign in'), form,
    isRegister ? h('p', {}, 'Have an account? ', h('a', { href: '/signin' }, 'Sign in')) : h('p', {}, 'No account yet? ', h('a', { href: '/register' }, 'Register')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const s of form.querySelectorAll('[data-error-for]')) s.textContent = '';
    formError.textContent = '';
    const fd = new FormData(form);
    const input = { username: fd.get('username'), password: fd.get('password') };
    if (isRegister) input.email = fd.get('email');
    try {
      const d = await gql(isRegister ? REGISTER : LOGIN, { input });
      setSession(isRegister ? d.register : d.login);
      const next = new URLSearchParams(location.search).get('next');
      location.href = next && next.startsWith('/') && !next.startsWith('//') ? next : '/jobs';
    } catch (e) {
      const errors = e instanceof GqlError ? e.errors : [{ message: e.message }];
      for (const err of errors) {
        const key = (err.extensions?.field || '').replace(/^input\./, '');
        const span = key && form.querySelector(`[data-error-for="${key}"]`);
        if (span) span.textContent = err.message; else formError.textContent = err.message;
      }
    }
  });
}
