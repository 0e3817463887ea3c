// passkey.js: the browser half of passkeys (issue 13) — sign-in on /login, adding on /account/passkeys.
// The pages work without it for password users; the server checks everything (fcgi/core/webauthn.c).
// Options and responses travel in the WebAuthn Level 3 JSON forms, so the browser's own
// parse*OptionsFromJSON() and toJSON() do the base64url work.
"use strict";

(function () {
	var PKC = window.PublicKeyCredential;
	if (!PKC || !navigator.credentials) {
		return;
	}

	function say(el, text) {
		if (el) {
			el.textContent = text;
		}
	}

	// The JSON of a credential: toJSON() where the browser has it (all current ones do).
	function asJSON(cred) {
		return JSON.stringify(cred.toJSON());
	}

	// --- /login: "Sign in with a passkey" and passkeys in the username autofill -----------
	function setupLogin(form) {
		var button = document.getElementById("passkey-login-button");
		var status = document.getElementById("passkey-login-status");
		var pending = null; // the conditional request, aborted before a modal one

		// The card around the form: hidden without script, so the page is the password form alone.
		(document.getElementById("passkey-login-card") || form).hidden = false;

		function options() {
			return fetch("/api/v1/auth/passkey/options", {
				method: "POST",
				credentials: "same-origin",
				headers: { Accept: "application/json" },
			}).then(function (r) {
				if (!r.ok) {
					throw new Error("options " + r.status);
				}
				return r.json();
			});
		}

		function signIn(mediation) {
			var abort = new AbortController();
			return options().then(function (o) {
				var req = {
					publicKey: PKC.parseRequestOptionsFromJSON(o.publicKey),
					signal: abort.signal,
				};
				if (mediation) {
					req.mediation = mediation;
					pending = abort;
				}
				return navigator.credentials.get(req).then(function (cred) {
					if (!cred) {
						return;
					}
					form.elements.challenge_id.value = o.challenge_id;
					form.elements.credential.value = asJSON(cred);
					say(status, "Signing in…");
					form.submit();
				});
			});
		}

		button.addEventListener("click", function () {
			if (pending) {
				pending.abort();
				pending = null;
			}
			say(status, "Waiting for your passkey…");
			signIn(null).catch(function (e) {
				say(status, e && e.name === "NotAllowedError" ?
					"Cancelled. Try again, or log in with your password." :
					"Signing in with a passkey did not work here. Log in with your password.");
			});
		});

		// Conditional mediation: the browser offers passkeys in the username field's autofill.
		if (PKC.isConditionalMediationAvailable) {
			PKC.isConditionalMediationAvailable().then(function (ok) {
				if (ok) {
					signIn("conditional").catch(function () {});
				}
			}).catch(function () {});
		}
	}

	// --- /account/passkeys: the add form, once the password re-check gave us options ------
	function setupAdd(form) {
		var status = document.getElementById("passkey-add-status");
		var data = form.getAttribute("data-options");
		var button = document.getElementById("passkey-add-button");
		var o;

		form.hidden = false;
		try {
			o = JSON.parse(data);
		} catch (e) {
			say(status, "These options are damaged; reload the page.");
			return;
		}
		button.addEventListener("click", function () {
			say(status, "Follow your browser's prompt to create the passkey…");
			navigator.credentials.create({
				publicKey: PKC.parseCreationOptionsFromJSON(o.publicKey),
			}).then(function (cred) {
				form.elements.challenge_id.value = o.challenge_id;
				form.elements.credential.value = asJSON(cred);
				form.submit();
			}).catch(function (e) {
				say(status, e && e.name === "InvalidStateError" ?
					"This authenticator holds a passkey for this account already." :
					"No passkey was created. You can try again.");
			});
		});
	}

	var login = document.getElementById("passkey-login");
	if (login) {
		setupLogin(login);
	}
	var add = document.getElementById("passkey-add");
	if (add && add.getAttribute("data-options")) {
		setupAdd(add);
	}
	var none = document.getElementById("passkey-unsupported");
	if (none) {
		none.hidden = true;
	}
})();
