#![recursion_limit = "512"]
//! The one integration test binary: real nodes on random ports, real redis-servers, a
//! simulated Twilio that signs its webhooks and follows TwiML, and websocket page clients.

mod agent;
mod browser;
mod crosschannel;
mod demo;
mod desk;
mod duplicates;
mod failover;
mod helpers;
mod history;
mod isolation;
mod journey;
mod nodes;
mod outage;
mod phone;
mod providers;
mod redis;
mod schema;
mod screens;
mod scripts;
mod security;
mod sms;
mod store;
